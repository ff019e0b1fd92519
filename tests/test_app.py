"""helpers.app: the web app's API, history, isolation, bad input, failures, restarts, limits and a load of 20 users."""

import io
import sqlite3
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from conftest import BAD_AUDIO, write_bad_audio  # noqa: E402
from helpers import separation  # noqa: E402
from helpers.app import Settings, create_app  # noqa: E402
from helpers.app.store import MIGRATIONS, Store  # noqa: E402


def song_bytes(seconds=1.0, rate=44100, seed=0):
    """A short stereo float WAV: tones and noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    mono = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)
    buffer = io.BytesIO()
    sf.write(buffer, np.stack([mono, 0.5 * mono]).T.astype(np.float32), rate, format="WAV", subtype="FLOAT")
    return buffer.getvalue()


def upload(client, data, name="song.wav", **form):
    if "\x00" in name:  # httpx would escape it: write the multipart body by hand, as a hostile client would
        body = (b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + name.encode() +
                b"\"\r\nContent-Type: audio/wav\r\n\r\n" + data + b"\r\n--b--\r\n")
        return client.post("/api/separations", content=body,
                           headers={"content-type": "multipart/form-data; boundary=b"})
    return client.post("/api/separations", files={"file": (name, data, "audio/wav")}, data=form)


def wait(client, separation_id, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/separations/{separation_id}").json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"{separation_id} did not finish: {job}")


@pytest.fixture
def app_root(tmp_path):
    return tmp_path / "app"


@pytest.fixture
def client(app_root):
    with TestClient(create_app(Settings(root=app_root))) as client:
        yield client


def stored_files(root):
    return sorted(p.relative_to(root).as_posix() for p in (root / "files").rglob("*") if p.is_file())


def test_upload_separate_listen_download_and_delete(client, app_root):
    data = song_bytes(1.5)
    response = upload(client, data, "My Song.wav")
    assert response.status_code == 202 and response.headers["location"].endswith(response.json()["id"])
    separation_id = response.json()["id"]
    job = wait(client, separation_id)
    assert job["status"] == "done" and job["progress"] == 1 and job["name"] == "My Song.wav"
    assert job["stems"] == ["vocals", "drums", "accompaniment"] and job["sample_rate"] == 44100
    original, _ = sf.read(io.BytesIO(data), dtype="float32")
    total = 0
    for name in job["stems"]:
        wav = client.get(f"/api/separations/{separation_id}/stems/{name}.wav")
        assert wav.status_code == 200 and wav.headers["content-type"] == "audio/wav"
        stem, rate = sf.read(io.BytesIO(wav.content), dtype="float32")
        assert rate == 44100 and stem.shape == original.shape
        total = total + stem
        picture = client.get(f"/api/separations/{separation_id}/stems/{name}.png")
        assert picture.status_code == 200 and picture.content.startswith(b"\x89PNG")
    assert np.abs(total - original).max() < 1e-6  # stems + residual = the song
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/api/separations/{separation_id}/stems.zip").content))
    assert sorted(archive.namelist()) == ["My Song/accompaniment.wav", "My Song/drums.wav", "My Song/vocals.wav"]
    # stored under random names, never the uploaded one
    assert all(not f.endswith("My Song.wav") for f in stored_files(app_root))
    second = upload(client, song_bytes(1.0, seed=1), "second.wav", targets="vocals")
    wait(client, second.json()["id"])
    history = client.get("/api/separations").json()
    assert [j["name"] for j in history] == ["second.wav", "My Song.wav"]  # newest first
    assert history[0]["stems"] == ["vocals", "accompaniment"]
    assert client.delete(f"/api/separations/{separation_id}").status_code == 204
    assert client.get(f"/api/separations/{separation_id}").status_code == 404
    assert not (app_root / "files" / separation_id).exists()
    assert [j["name"] for j in client.get("/api/separations").json()] == ["second.wav"]


def test_the_page_is_served_and_issues_a_session(client):
    page = client.get("/")
    assert page.status_code == 200 and "Separate your song" in page.text
    assert "separator_session" in page.headers["set-cookie"] and "httponly" in page.headers["set-cookie"].lower()
    config = client.get("/api/config").json()
    assert config["targets"] == ["vocals", "drums", "bass"] and config["default_targets"] == ["vocals", "drums"]


def test_users_never_see_each_others_separations(client, app_root):
    separation_id = upload(client, song_bytes()).json()["id"]
    wait(client, separation_id)
    other = TestClient(client.app)  # no cookie: a new user (the same running app: no second start-up)
    if True:
        other.get("/")
        for path in (f"/api/separations/{separation_id}", f"/api/separations/{separation_id}/stems/vocals.wav",
                     f"/api/separations/{separation_id}/stems.zip"):
            assert other.get(path).status_code == 404
        assert other.delete(f"/api/separations/{separation_id}").status_code == 404
        assert other.get("/api/separations").json() == []
        other.cookies.set("separator_session", "a forged token")
        assert other.get(f"/api/separations/{separation_id}").status_code == 404
    assert client.get(f"/api/separations/{separation_id}").json()["status"] == "done"


def bad_upload(tmp_path, case):
    if case in BAD_AUDIO:
        if case in ("missing", "directory"):
            pytest.skip("not something a browser can upload")
        return write_bad_audio(tmp_path / f"{case}.wav", case).read_bytes(), "song.wav", {}, 400, BAD_AUDIO[case]
    return {
        "too_large": (song_bytes(2.0), "song.wav", {}, 413, "larger than the limit of 0.1 MB"),
        "not_audio_named_wav": (b"<html>not a song</html>" * 100, "song.wav", {}, 400, "not a readable audio file"),
        "unknown_target": (song_bytes(), "song.wav", {"targets": "guitar"}, 400, "unknown target 'guitar'"),
        "target_not_in_model": (song_bytes(), "song.wav", {"targets": "other"}, 400, "'other' is not separated"),
        "path_name": (song_bytes(), "../../etc/passwd", {}, 400, "is not a plain file name"),
        "nul_name": (song_bytes(), "song\x00.wav", {}, 400, "is not a plain file name"),
        "long_name": (song_bytes(), "a" * 300 + ".wav", {}, 400, "too long"),
    }[case]


@pytest.mark.parametrize("case", [*BAD_AUDIO, "too_large", "not_audio_named_wav", "unknown_target",
                                  "target_not_in_model", "path_name", "nul_name", "long_name"])
def test_bad_uploads_are_refused_with_a_reason_and_write_nothing(tmp_path, case):
    content, name, form, status, message = bad_upload(tmp_path, case)
    root = tmp_path / "app"
    limit = 0.1 if case == "too_large" else 100.0
    with TestClient(create_app(Settings(root=root, max_upload_mb=limit))) as client:
        response = upload(client, content, name, **form)
        assert response.status_code == status and message in response.json()["detail"]
        assert str(root) not in response.json()["detail"]  # no server paths in messages
        assert client.get("/api/separations").json() == []
    assert stored_files(root) == [] and not any((root / "incoming").iterdir())


@pytest.fixture
def stalled(monkeypatch):
    """``stall()`` makes later separations write a partial stem and hang until ``release`` is set, then fail as a
    killed process would; ``started`` is set once one hangs."""
    release = threading.Event()
    started = threading.Event()

    def separate_file(song, paths, separator, *, progress=True, on_progress=None):
        next(iter(paths.values())).write_bytes(b"partial")
        started.set()
        release.wait(60)
        raise RuntimeError("stopped")

    def stall():
        monkeypatch.setattr(separation, "separate_file", separate_file)

    yield stall, started, release
    release.set()


def test_too_many_concurrent_jobs_are_refused(app_root, stalled):
    stall, started, release = stalled
    stall()
    with TestClient(create_app(Settings(root=app_root, max_active=2))) as client:
        first, second = (upload(client, song_bytes()).json()["id"] for _ in range(2))
        third = upload(client, song_bytes())
        assert third.status_code == 429 and "at most 2" in third.json()["detail"]
        release.set()
        assert wait(client, first)["status"] == wait(client, second)["status"] == "failed"
        assert upload(client, song_bytes()).status_code == 202  # the slots are free again


def test_a_failure_becomes_a_failed_job_and_the_server_keeps_serving(app_root, monkeypatch):
    def broken(*args, **kwargs):
        raise MemoryError("the worker ran out of memory")

    monkeypatch.setattr(separation, "separate_file", broken)
    with TestClient(create_app(Settings(root=app_root))) as client:
        job = wait(client, upload(client, song_bytes()).json()["id"])
        assert job["status"] == "failed" and job["reason"] == (
            "separation failed (MemoryError: the worker ran out of memory)")
        assert client.get("/api/separations").status_code == 200
        assert client.get(f"/api/separations/{job['id']}/stems/vocals.wav").status_code == 404


def test_a_restart_fails_interrupted_jobs_and_keeps_finished_ones(app_root, stalled):
    stall, started, release = stalled
    with TestClient(create_app(Settings(root=app_root))) as first:
        finished = wait(first, upload(first, song_bytes()).json()["id"])
        cookie = first.cookies.get("separator_session")
    stall()
    with TestClient(create_app(Settings(root=app_root))) as old:
        old.cookies.set("separator_session", cookie)
        interrupted = upload(old, song_bytes()).json()["id"]
        assert started.wait(60)
        (app_root / "incoming" / "half-received-upload").write_bytes(b"RIFF")  # an upload in flight
        with TestClient(create_app(Settings(root=app_root))) as new:  # the restarted server, same store
            new.cookies.set("separator_session", cookie)
            job = new.get(f"/api/separations/{interrupted}").json()
            assert job["status"] == "failed" and "interrupted by a server restart" in job["reason"]
            assert sorted(p.name for p in (app_root / "files" / interrupted).iterdir()) == ["input"]
            assert not any((app_root / "incoming").iterdir())
            assert new.get(f"/api/separations/{finished['id']}").json()["status"] == "done"
            assert new.get(f"/api/separations/{finished['id']}/stems/vocals.wav").status_code == 200
            release.set()


def test_quota_and_retention(app_root):
    with TestClient(create_app(Settings(root=app_root, quota_mb=1.0))) as client:
        first = wait(client, upload(client, song_bytes(0.5)).json()["id"])
        assert first["status"] == "done"
        refused = upload(client, song_bytes(1.0))
        assert refused.status_code == 413 and "storage quota of 1 MB" in refused.json()["detail"]
    store = Store(app_root)
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE separations SET created = created - 8 * 86400")
    with TestClient(create_app(Settings(root=app_root))):  # start-up removes what is past retention
        pass
    assert not (app_root / "files" / first["id"]).exists()
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT COUNT(*) FROM separations").fetchone()[0] == 0
        assert db.execute("SELECT COUNT(*) FROM stems").fetchone()[0] == 0


def test_the_schema_is_versioned_and_migrated_once(tmp_path):
    store = Store(tmp_path)
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    Store(tmp_path)  # a second start runs no migration again (it would fail on CREATE TABLE)


def test_twenty_users_upload_at_once_and_all_get_correct_stems(app_root):
    """Load: 20 users, a 4-s song each (four overlapping segments of the shipped model), submitted together; none
    is lost, every result adds up. benchmarks/app_load.py measures the load itself."""
    with TestClient(create_app(Settings(root=app_root, workers=2))) as shared:
        def one_user(i):
            client = TestClient(shared.app)  # one user each, on the one running app
            if True:
                data = song_bytes(4.0, seed=i)
                separation_id = upload(client, data, f"user{i}.wav").json()["id"]
                job = wait(client, separation_id, timeout=600)
                original, _ = sf.read(io.BytesIO(data), dtype="float32")
                total = sum(sf.read(io.BytesIO(client.get(f"/api/separations/{separation_id}/stems/{n}.wav")
                                               .content), dtype="float32")[0] for n in job["stems"])
                return job["status"], float(np.abs(total - original).max()), len(client.get("/api/separations").json())

        with ThreadPoolExecutor(20) as pool:
            results = list(pool.map(one_user, range(20)))
    assert [r[0] for r in results] == ["done"] * 20
    assert max(r[1] for r in results) < 1e-6
    assert {r[2] for r in results} == {1}  # each user sees exactly their own separation
