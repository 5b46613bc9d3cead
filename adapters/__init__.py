"""Platform adapters: each translates platform payloads to IncomingMessage and replies back."""
