"""What runs inside every image before and around the server: settings, limits, launch."""
