"""`walkout keys generate` and the key loaders: ZeroMQ's own certificate format, clear errors."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import zmq
import zmq.auth

from walkout.cli import main
from walkout.wire import (
    Receiver,
    Sender,
    SqliteStore,
    generate_keys,
    load_allowed_keys,
    load_key_pair,
    load_secret_key,
)


def test_cli_writes_a_pair_zeromq_reads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "generate", "box-1", "--dir", str(tmp_path)]) == 0
    public, secret = zmq.auth.load_certificate(str(tmp_path / "box-1.key_secret"))
    assert zmq.auth.load_certificate(str(tmp_path / "box-1.key")) == (public, None)
    assert len(public) == 40 and secret is not None and len(secret) == 40
    assert stat.S_IMODE((tmp_path / "box-1.key_secret").stat().st_mode) == 0o600
    # the pair is a real CURVE pair: the public key is derived from the secret
    assert zmq.curve_public(secret) == public
    capsys.readouterr()
    assert main(["keys", "show", str(tmp_path / "box-1.key")]) == 0
    assert capsys.readouterr().out.strip() == public.decode()


def test_cli_refuses_to_overwrite_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "generate", "gate-1", "--dir", str(tmp_path)]) == 0
    first = (tmp_path / "gate-1.key").read_text()
    assert main(["keys", "generate", "gate-1", "--dir", str(tmp_path)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert (tmp_path / "gate-1.key").read_text() == first
    assert main(["keys", "generate", "gate-1", "--dir", str(tmp_path), "--force"]) == 0
    assert (tmp_path / "gate-1.key").read_text() != first


def test_loaders_name_the_file_and_what_was_expected(tmp_path: Path) -> None:
    generate_keys("box-1", tmp_path)
    assert load_key_pair(tmp_path / "box-1.key").name == "box-1"
    assert load_allowed_keys([tmp_path / "box-1.key"]) == {
        load_key_pair(tmp_path / "box-1.key").public: "box-1"
    }
    with pytest.raises(ValueError, match=r"box-1\.key: expected a secret key"):
        load_secret_key(tmp_path / "box-1.key")
    (tmp_path / "junk.key").write_text("not a certificate\n")
    with pytest.raises(ValueError, match=r"junk\.key: expected a ZeroMQ certificate"):
        load_key_pair(tmp_path / "junk.key")
    with pytest.raises(ValueError, match=r"missing\.key"):
        load_key_pair(tmp_path / "missing.key")
    with pytest.raises(ValueError, match="name"):
        generate_keys("../escape", tmp_path)


def test_ends_refuse_bad_arguments_by_name(tmp_path: Path) -> None:
    generate_keys("server", tmp_path)
    generate_keys("box-1", tmp_path)
    server = load_secret_key(tmp_path / "server.key_secret")
    box = load_secret_key(tmp_path / "box-1.key_secret")
    public_only = load_key_pair(tmp_path / "box-1.key")
    with pytest.raises(ValueError, match="server_public_key"):
        Sender(
            "tcp://127.0.0.1:1", "box-1", tmp_path / "s", secret_key=box, server_public_key=b"short"
        )
    with pytest.raises(ValueError, match="secret_key"):
        Sender(
            "tcp://127.0.0.1:1",
            "box-1",
            tmp_path / "s",
            secret_key=public_only,
            server_public_key=server.public,
        )
    with pytest.raises(ValueError, match="event_reserve"):
        Sender(
            "tcp://127.0.0.1:1",
            "box-1",
            tmp_path / "s",
            secret_key=box,
            server_public_key=server.public,
            event_reserve=1.5,
        )
    store = SqliteStore(tmp_path / "db.sqlite")
    with pytest.raises(ValueError, match="allowed"):
        Receiver("tcp://127.0.0.1:*", store, secret_key=server, allowed_keys={})
    with pytest.raises(ValueError, match="batch_max"):
        Receiver(
            "tcp://127.0.0.1:*",
            store,
            secret_key=server,
            allowed_keys=load_allowed_keys([tmp_path / "box-1.key"]),
            batch_max=0,
        )
    with pytest.raises(ValueError, match="path"):
        SqliteStore(":memory:")
    store.close()


def test_a_sender_refuses_a_message_of_another_source(tmp_path: Path) -> None:
    from walkout import protocol as p

    generate_keys("server", tmp_path)
    generate_keys("box-1", tmp_path)
    with Sender(
        "tcp://127.0.0.1:1",
        "box-1",
        tmp_path / "s",
        secret_key=load_secret_key(tmp_path / "box-1.key_secret"),
        server_public_key=load_key_pair(tmp_path / "server.key").public,
    ) as sender:
        with pytest.raises(ValueError, match=r"message\.src"):
            sender.send(
                p.Weight(src="box-2", t_ns=1, shelf="s", slot="s/a", delta_g=1.0, after_g=1.0)
            )
        assert sender.stats().last_seq == 0


def test_both_ends_open_from_the_example_configs(tmp_path: Path, repo_root: Path) -> None:
    import shutil

    from walkout import protocol as p
    from walkout.config.loader import load_edge, load_server
    from walkout.wire.from_config import receiver_for_server, sender_for_edge

    configs = tmp_path / "configs"
    shutil.copytree(repo_root / "configs", configs)
    for name in ("server", "edge-a", "edge-b", "gate-entry", "shelf-gateway"):
        generate_keys(name, configs / "keys")
    edge, server = load_edge(configs / "edge-a.yaml"), load_server(configs / "server.yaml")
    store = SqliteStore(tmp_path / "store.db")
    with receiver_for_server(
        server, store, endpoint="tcp://127.0.0.1:*", poll_s=0.02
    ).start() as receiver:
        edge = type(edge)(
            config=edge.config.model_copy(
                update={
                    "server": edge.config.server.model_copy(
                        update={"endpoint": receiver.last_endpoint}
                    )
                }
            ),
            path=edge.path,
            store=edge.store,
        )
        with sender_for_edge(edge, spool_dir=tmp_path / "spool") as sender:
            assert sender.spool.max_bytes == 512 * 1024 * 1024  # spool.max_mb of edge-a.yaml
            sender.send(p.Tracks(src=edge.config.box, t_ns=1, tracks=[]))
            assert sender.flush(10)
    assert store.count(edge.config.box) == 1
    store.close()


def test_a_closed_sender_refuses_to_send(tmp_path: Path) -> None:
    from walkout import protocol as p

    generate_keys("server", tmp_path)
    generate_keys("box-1", tmp_path)
    sender = Sender(
        "tcp://127.0.0.1:1",
        "box-1",
        tmp_path / "s",
        secret_key=load_secret_key(tmp_path / "box-1.key_secret"),
        server_public_key=load_key_pair(tmp_path / "server.key").public,
    )
    sender.close()
    sender.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        sender.send(p.Tracks(src="box-1", t_ns=1, tracks=[]))
