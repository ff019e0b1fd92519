"""The web app's store: an SQLite database of users, separations and stems, and the files on disk beside it.

Layout under the app's folder (``data/app`` by default)::

    app.sqlite3                 users, separations, stems (schema version in PRAGMA user_version)
    incoming/<random>           uploads being received; emptied at start-up (an upload in flight fails cleanly)
    files/<separation id>/      the upload (``input``, no extension, never its own name) and the stems

Every method opens its own connection, so the store is safe to use from the request handlers and the worker
threads at once; SQLite's WAL journal lets readers go on while a worker writes.

Used by: helpers.app.server
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
import sqlite3
import time
from pathlib import Path

#: Schema migrations, applied in order; ``PRAGMA user_version`` records how many have run.
MIGRATIONS = (
    """
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        created REAL NOT NULL
    );
    CREATE TABLE separations (
        id TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id),
        name TEXT NOT NULL,
        targets TEXT NOT NULL,
        wiener INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
        reason TEXT,
        progress REAL NOT NULL DEFAULT 0,
        seconds REAL,
        sample_rate INTEGER,
        n_channels INTEGER,
        bytes INTEGER NOT NULL DEFAULT 0,
        created REAL NOT NULL,
        finished REAL
    );
    CREATE INDEX separations_by_user ON separations(user_id, created);
    CREATE TABLE stems (
        separation_id TEXT NOT NULL REFERENCES separations(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        position INTEGER NOT NULL,
        PRIMARY KEY (separation_id, name)
    );
    """,
)

ACTIVE = ("queued", "running")


class Store:
    """The database and the files of the web app.

    Used by: helpers.app.server

    Parameters
    ----------
    root : str or os.PathLike
        The app's folder; created with its schema on first use, migrated on later ones.
    """

    def __init__(self, root):
        self.root = Path(root)
        self.files = self.root / "files"
        self.incoming = self.root / "incoming"
        self.path = self.root / "app.sqlite3"
        for folder in (self.root, self.files, self.incoming):
            folder.mkdir(parents=True, exist_ok=True)
        with self.connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                db.executescript(script)
                db.execute(f"PRAGMA user_version = {number}")

    def connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)  # autocommit; BEGIN where needed
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA foreign_keys = ON")
        return db

    # --- users ---------------------------------------------------------------------------------------------------

    def user(self, token: str | None) -> tuple[int, str | None]:
        """The user holding ``token``; a new user (and the token to give them) if it is missing or unknown."""
        with self.connect() as db:
            if token:
                row = db.execute("SELECT id FROM users WHERE token_hash = ?", (_hash(token),)).fetchone()
                if row:
                    return row["id"], None
            token = secrets.token_urlsafe(32)
            cursor = db.execute("INSERT INTO users (token_hash, created) VALUES (?, ?)", (_hash(token), time.time()))
            return cursor.lastrowid, token

    # --- separations ---------------------------------------------------------------------------------------------

    def add(self, user_id: int, name: str, targets, wiener: bool, upload: Path, max_active: int) -> str:
        """Queue a separation of an uploaded file (moved into the store); refuse if the user has too many running.

        Returns the new id, or raises :class:`LimitError`.
        """
        separation_id = secrets.token_hex(16)
        folder = self.files / separation_id
        with self.connect() as db:
            db.execute("BEGIN IMMEDIATE")  # one writer: the count and the insert cannot interleave
            n_active = db.execute(f"SELECT COUNT(*) FROM separations WHERE user_id = ? AND status IN {ACTIVE}",
                                  (user_id,)).fetchone()[0]
            if n_active >= max_active:
                db.execute("ROLLBACK")
                raise LimitError(f"you already have {n_active} separations queued or running (at most "
                                 f"{max_active}); wait for one to finish")
            folder.mkdir()
            Path(upload).replace(folder / "input")
            db.execute("INSERT INTO separations (id, user_id, name, targets, wiener, status, bytes, created) "
                       "VALUES (?, ?, ?, ?, ?, 'queued', ?, ?)",
                       (separation_id, user_id, name, " ".join(targets), int(wiener),
                        (folder / "input").stat().st_size, time.time()))
            db.execute("COMMIT")
        return separation_id

    def get(self, user_id: int | None, separation_id: str) -> dict | None:
        """One separation as a dict (with its stems), or None if it does not exist or is another user's."""
        with self.connect() as db:
            row = db.execute("SELECT * FROM separations WHERE id = ?", (separation_id,)).fetchone()
            if row is None or (user_id is not None and row["user_id"] != user_id):
                return None
            stems = [r["name"] for r in db.execute(
                "SELECT name FROM stems WHERE separation_id = ? ORDER BY position", (separation_id,))]
        return _as_dict(row, stems)

    def history(self, user_id: int) -> list[dict]:
        """A user's separations, newest first."""
        with self.connect() as db:
            rows = db.execute("SELECT * FROM separations WHERE user_id = ? ORDER BY created DESC, rowid DESC",
                              (user_id,)).fetchall()
            stems = {}
            for r in db.execute("SELECT s.separation_id, s.name FROM stems s JOIN separations j ON "
                                "j.id = s.separation_id WHERE j.user_id = ? ORDER BY s.position", (user_id,)):
                stems.setdefault(r["separation_id"], []).append(r["name"])
        return [_as_dict(row, stems.get(row["id"], [])) for row in rows]

    def used_bytes(self, user_id: int) -> int:
        with self.connect() as db:
            return db.execute("SELECT COALESCE(SUM(bytes), 0) FROM separations WHERE user_id = ?",
                              (user_id,)).fetchone()[0]

    def start(self, separation_id: str) -> bool:
        """Mark a queued separation running; False if it is gone (deleted while queued)."""
        with self.connect() as db:
            cursor = db.execute("UPDATE separations SET status = 'running' WHERE id = ? AND status = 'queued'",
                                (separation_id,))
            return cursor.rowcount == 1

    def progress(self, separation_id: str, share: float) -> None:
        with self.connect() as db:
            db.execute("UPDATE separations SET progress = ? WHERE id = ?", (float(share), separation_id))

    def finish(self, separation_id: str, stems, seconds: float, sample_rate: int, n_channels: int) -> None:
        """Record a finished separation and its stems (already on disk) in one transaction."""
        folder = self.files / separation_id
        size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
        with self.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT INTO stems (separation_id, name, position) VALUES (?, ?, ?)",
                           [(separation_id, name, i) for i, name in enumerate(stems)])
            db.execute("UPDATE separations SET status = 'done', progress = 1, seconds = ?, sample_rate = ?, "
                       "n_channels = ?, bytes = ?, finished = ? WHERE id = ?",
                       (seconds, sample_rate, n_channels, size, time.time(), separation_id))
            db.execute("COMMIT")

    def fail(self, separation_id: str, reason: str) -> None:
        """Mark a separation failed with a one-line reason, and remove its stems (the upload stays, for the quota)."""
        folder = self.files / separation_id
        if folder.is_dir():
            for path in folder.iterdir():
                if path.name != "input":
                    path.unlink(missing_ok=True)
        with self.connect() as db:
            db.execute("UPDATE separations SET status = 'failed', reason = ?, finished = ? WHERE id = ?",
                       (" ".join(str(reason).split())[:300], time.time(), separation_id))

    def delete(self, separation_id: str) -> None:
        """Remove a separation from the database and the disk together."""
        with self.connect() as db:
            db.execute("DELETE FROM separations WHERE id = ?", (separation_id,))
        shutil.rmtree(self.files / separation_id, ignore_errors=True)

    def recover(self) -> list[str]:
        """At start-up: separations a restart interrupted become failed (their partial stems removed), and uploads
        that were still arriving are deleted. Returns the ids marked failed."""
        shutil.rmtree(self.incoming, ignore_errors=True)
        self.incoming.mkdir()
        with self.connect() as db:
            ids = [r["id"] for r in db.execute(f"SELECT id FROM separations WHERE status IN {ACTIVE}")]
        for separation_id in ids:
            self.fail(separation_id, "interrupted by a server restart; upload the song again")
        known = set()
        with self.connect() as db:
            known = {r["id"] for r in db.execute("SELECT id FROM separations")}
        for folder in self.files.iterdir():  # files without a row (a crash between the two writes)
            if folder.name not in known:
                shutil.rmtree(folder, ignore_errors=True)
        return ids

    def expire(self, retention_seconds: float) -> list[str]:
        """Delete finished separations older than the retention period, from the database and the disk."""
        cutoff = time.time() - retention_seconds
        with self.connect() as db:
            ids = [r["id"] for r in db.execute(
                f"SELECT id FROM separations WHERE status NOT IN {ACTIVE} AND created < ?", (cutoff,))]
        for separation_id in ids:
            self.delete(separation_id)
        return ids


class LimitError(Exception):
    """A user asked for more than the app allows (concurrent jobs, storage quota).

    Used by: helpers.app.server
    """


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _as_dict(row, stems) -> dict:
    return {"id": row["id"], "name": row["name"], "targets": row["targets"].split(), "wiener": bool(row["wiener"]),
            "status": row["status"], "reason": row["reason"], "progress": round(row["progress"], 3),
            "seconds": row["seconds"], "sample_rate": row["sample_rate"], "n_channels": row["n_channels"],
            "bytes": row["bytes"], "created": row["created"], "finished": row["finished"], "stems": list(stems)}
