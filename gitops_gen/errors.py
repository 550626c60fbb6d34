"""The one error tree. Every message names what is wrong and what to do next."""

from __future__ import annotations


class GitopsGenError(Exception):
    """Base class; ``exit_code`` is what the CLI exits with."""

    exit_code = 1
    #: Where the error is, when it is in a file: the repository-relative path and the 1-based line.
    file: str | None = None
    line: int | None = None

    def __init__(self, message: str, hint: str | None = None, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        #: The flag (``--size``) or declaration field (``database.cidrs``) at fault, when one is.
        self.field = field

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class UserError(GitopsGenError):
    """Bad input: a flag, a name, a declaration file. Nothing was written."""

    exit_code = 2


class DeclarationError(UserError):
    """A malformed ``gitops-gen.yaml``, ``cluster.yaml`` or ``tenant.yaml``."""

    def __init__(self, path: str, message: str, line: int | None = None, hint: str | None = None,
                 *, field: str | None = None) -> None:
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}", hint, field=field)
        self.path = path
        self.file = path
        self.line = line


class GitError(GitopsGenError):
    """The repository is not in a state the command can work with."""

    exit_code = 2


class ToolError(GitopsGenError):
    """An external tool (kustomize, kubectl) failed or is missing."""

    exit_code = 2


class RemoteError(GitopsGenError):
    """A push or a forge API call failed. The local branch and commit are kept; re-running finishes the job.

    ``status`` is the HTTP status when the forge answered, None for a push or a connection failure.
    """

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None, status: int | None = None) -> None:
        super().__init__(message, hint)
        self.status = status
