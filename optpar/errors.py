"""User-facing errors: one line, `path:line:col: error: message`, exit code 2."""


class UserError(Exception):
    """Bad input from the user (file, CSV, comment, option). Never shown as a traceback."""

    def __init__(self, path, line: int, col: int, message: str) -> None:
        super().__init__(message)
        self.path = str(path)
        self.line = line
        self.col = col
        self.message = message

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: error: {self.message}"
