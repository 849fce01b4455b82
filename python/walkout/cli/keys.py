"""``walkout keys generate NAME [--dir DIR]``: a CURVE key pair in ZeroMQ's certificate format;
``walkout keys token NAME --role R --out FILE``: an HTTP API bearer token."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("keys", help="CURVE key pairs for the wire")
    sub = parser.add_subparsers(dest="keys_command", metavar="ACTION")
    sub.required = True

    generate = sub.add_parser(
        "generate",
        help="write NAME.key (public: give it to the server's keys.allowed) and "
        "NAME.key_secret (secret: stays on this machine)",
    )
    generate.add_argument("name", help="the source's id (box, gate or gateway), or 'server'")
    generate.add_argument("--dir", type=Path, default=Path("."), help="folder to write to")
    generate.add_argument("--force", action="store_true", help="replace an existing pair")
    generate.set_defaults(handler=_generate)

    token = sub.add_parser(
        "token", help="a new HTTP API bearer token: writes it to --out (mode 0600) and prints "
        "the auth.tokens entry (its SHA-256, no secret) for the server config")
    token.add_argument("name", help="who holds it (the reviewer identity in the audit trail)")
    token.add_argument("--role", choices=("viewer", "reviewer", "admin", "app"), required=True)
    token.add_argument("--out", type=Path, required=True, help="file for the token itself")
    token.set_defaults(handler=_token)

    show = sub.add_parser("show", help="print the public key of a key file")
    show.add_argument("file", type=Path)
    show.set_defaults(handler=_show)


def _generate(args: argparse.Namespace) -> int:
    from walkout.wire.keys import generate_keys

    try:
        public, secret = generate_keys(args.name, args.dir, overwrite=args.force)
    except (ValueError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"public key: {public}")
    print(f"secret key: {secret} (keep it on this machine only)")
    return 0


def _show(args: argparse.Namespace) -> int:
    from walkout.wire.keys import load_key_pair

    try:
        pair = load_key_pair(args.file)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(pair.public.decode("ascii"))
    return 0


def _token(args: argparse.Namespace) -> int:
    import os

    from walkout.server.auth import new_token, token_digest

    if args.out.exists():
        print(f"error: {args.out} exists; remove it first", file=sys.stderr)
        return 1
    token = new_token()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(token + "\n")
    print(f"    - {{name: {args.name}, role: {args.role}, sha256: {token_digest(token)}}}")
    return 0
