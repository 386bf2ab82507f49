"""MariaDB keeps the feeds' AUTO_INCREMENT across a restart: ids taken by rows since
deleted (the newest pruned) are not handed out again after the server restarts.

InnoDB before MariaDB 10.2.4 recomputed the counter as MAX(id) + 1 at start; this
starts a private `mariadbd` (a temporary data directory, a free port), deletes the
newest rows, restarts it, and checks the next ids. Skipped, saying why, where no
`mariadbd` can be started.
"""

import shutil
import socket
import subprocess
import time

import pytest

from identity_grpc.store import Store

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateMariaDB:
    def __init__(self, tmp_path):
        self.data = tmp_path / "data"
        self.port = _free_port()
        self.proc = None
        install = shutil.which("mariadb-install-db")
        server = shutil.which("mariadbd") or shutil.which("mariadbd", path="/usr/sbin")
        if not install or not server:
            pytest.skip("mariadbd or mariadb-install-db is not installed")
        self.server = server
        done = subprocess.run([install, "--no-defaults", f"--datadir={self.data}",
                               "--auth-root-authentication-method=normal", "--skip-test-db"],
                              capture_output=True, text=True, timeout=120)
        if done.returncode:
            pytest.skip(f"mariadb-install-db failed: {done.stderr.strip()[-300:]}")

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.server, "--no-defaults", f"--datadir={self.data}", f"--port={self.port}",
             "--bind-address=127.0.0.1", f"--socket={self.data}/sock", "--user=root",
             "--innodb-buffer-pool-size=16M", f"--log-error={self.data}/error.log"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    pytest.skip(f"mariadbd did not start: {self._log_tail()}")
                if time.monotonic() > deadline:
                    self.stop()
                    pytest.skip("mariadbd did not listen within 60 s")
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # a clean shutdown, as a restart does
            self.proc.wait(timeout=60)

    def _log_tail(self) -> str:
        try:
            return (self.data / "error.log").read_text()[-300:]
        except OSError:
            return "(no log)"

    def sql(self, statement: str) -> None:
        import pymysql
        conn = pymysql.connect(host="127.0.0.1", port=self.port, user="root")
        try:
            conn.cursor().execute(statement)
            conn.commit()
        finally:
            conn.close()


@pytest.fixture
def mariadb(tmp_path):
    server = PrivateMariaDB(tmp_path)
    server.start()
    yield server
    server.stop()


def _open(server: PrivateMariaDB) -> Store:
    return Store.open(f"mysql://root@127.0.0.1:{server.port}/identity")


def test_feed_ids_are_not_reused_after_the_newest_rows_were_deleted_and_mariadb_restarted(
        mariadb):
    mariadb.sql("CREATE DATABASE identity")
    store = _open(mariadb)
    Change, RevocationEvent = store.tables.Change, store.tables.RevocationEvent
    ids = [Change.create(entity="user", entity_id=f"u{i}").id for i in range(3)]
    event_ids = [RevocationEvent.create(user_id="u", issued_before=i, expires_at=1).id
                 for i in range(3)]
    Change.delete().where(Change.id > ids[0]).execute()
    RevocationEvent.delete().where(RevocationEvent.id > event_ids[0]).execute()
    store.close()
    mariadb.stop()
    mariadb.start()
    store = _open(mariadb)
    Change, RevocationEvent = store.tables.Change, store.tables.RevocationEvent
    assert Change.create(entity="user", entity_id="after").id > ids[-1]
    assert RevocationEvent.create(user_id="u", issued_before=9,
                                  expires_at=1).id > event_ids[-1]
    store.close()
