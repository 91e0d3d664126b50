"""Example tasks: real, runnable training tasks with offline default data."""
