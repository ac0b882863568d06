"""The widgets of livetap's main screen."""
