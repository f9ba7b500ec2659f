"""The Network source: signalling from the mobile network becomes events and usage records."""
