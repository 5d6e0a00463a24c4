"""User-facing errors: one clear line, exit code 2, no traceback unless debug."""

from __future__ import annotations

import functools
import os
import sys


class UserError(Exception):
    """A problem with the user's input (config, data, checkpoint) that they can fix.

    The message should say what is wrong and how to fix it, in one line.
    """


def debug_enabled() -> bool:
    return os.environ.get("GAN_LAB_DEBUG", "") not in ("", "0", "false") or any(
        arg in ("debug=true", "debug=True", "+debug=true") for arg in sys.argv[1:]
    )


def exit_on_user_error(fn):
    """Turn UserError into `error: <message>` on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except UserError as err:
            if debug_enabled():
                raise
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)

    return wrapper
