"""What every Google adapter shares: user/service credentials and the authorized HTTP session."""
