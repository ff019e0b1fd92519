"""The separator as a web app: upload a song, watch it separate, play and download the stems, keep a history.

A FastAPI application (chosen over Gradio because the course needs a JSON API that scripts and tests drive, a
history per user and control over every error; FastAPI is what Gradio itself runs on, and Colab ships it):

- **web layer**: :func:`create_app`, the JSON API under ``/api`` and one page (``static/index.html``);
- **store**: :class:`helpers.app.store.Store`, an SQLite database with the files beside it;
- **work queue**: :class:`Workers`, a bounded thread pool that keeps one model in memory and runs
  :func:`helpers.separation.separate_file` outside the request.

A user is whoever holds the session cookie issued on the first request; a user never sees another's separations
(they answer 404, as if they did not exist).

Used by: helpers.app
"""

from __future__ import annotations

import dataclasses
import re
from contextlib import asynccontextmanager
import secrets
import tempfile
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi import Cookie, FastAPI, File, Form, HTTPException, Request, Response, UploadFile
from fastapi.responses import FileResponse, HTMLResponse
from starlette.background import BackgroundTask

from helpers import audio
from helpers.app.store import LimitError, Store
from helpers.config import DEFAULT_TARGETS, check_targets, data_dir, residual_name
from helpers.exceptions import ParameterError

COOKIE = "separator_session"
STATIC = Path(__file__).resolve().parent / "static"


@dataclasses.dataclass
class Settings:
    """What an instructor may change (``python -m helpers.app --help`` lists the same as options).

    Used by: helpers.app, helpers.app.server.create_app

    Attributes
    ----------
    root : pathlib.Path or None
        The app's folder: database and files (``None``: ``data/app``, read at start).
    workers : int
        Separations run at once (each holds a share of the CPU; the model is loaded once).
    max_upload_mb : float
        Largest upload accepted, in MB.
    quota_mb : float
        Disk space one user's uploads and stems may take, in MB.
    retention_days : float
        Finished separations older than this are removed, from the database and the disk together.
    max_active : int
        Separations one user may have queued or running at once.
    model : str or None
        A ``.keras`` model saved by the course (any architecture the separator runs); ``None`` is the shipped
        U-Net.
    """

    root: Path | None = None
    workers: int = 1
    max_upload_mb: float = 100.0
    quota_mb: float = 2000.0
    retention_days: float = 7.0
    max_active: int = 3
    model: str | None = None


class Workers:
    """A bounded pool of threads that separate queued songs with one shared model.

    Each job's :class:`helpers.separation.Separator` is given the pool's lock, so the model runs one batch at a
    time while reading, STFTs and writing run in parallel.

    Used by: helpers.app.server.create_app

    Parameters
    ----------
    store : Store
    settings : Settings
    """

    def __init__(self, store: Store, settings: Settings):
        self.store, self.settings = store, settings
        self.pool = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="separator")
        self._model = None
        self._load_lock = threading.Lock()
        self._model_lock = threading.Lock()  # the separators' lock: one model call at a time, the rest in parallel

    def model(self):
        """The model, loaded on first use and kept (shared by every worker's separator, with one lock)."""
        from helpers import models  # here: Keras (TensorFlow) loads with the first separation, not at start

        with self._load_lock:
            if self._model is None:
                self._model = models.load(self.settings.model)
            return self._model

    def submit(self, separation_id: str) -> None:
        self.pool.submit(self.run, separation_id)

    def run(self, separation_id: str) -> None:
        """Separate one queued song; any failure becomes a failed separation with a one-line reason."""
        from helpers import separation  # here: it imports Keras, like models above

        if not self.store.start(separation_id):
            return  # deleted while it waited
        job = self.store.get(None, separation_id)
        folder = self.store.files / separation_id
        try:
            separator = separation.Separator(self.model(), job["targets"], wiener=job["wiener"],
                                             lock=self._model_lock)
            names = [*job["targets"], residual_name(job["targets"])]
            paths = {name: folder / f"{name}.wav" for name in names}
            report = separation.separate_file(folder / "input", paths, separator, progress=False,
                                              on_progress=lambda share: self.store.progress(separation_id, share))
            for name, path in paths.items():
                waveform_png(path, folder / f"{name}.png")
            self.store.finish(separation_id, names, report["seconds"], report["sample_rate"],
                              report["n_channels"])
        except ParameterError as exc:
            self.store.fail(separation_id, str(exc).replace(str(folder / "input"), job["name"]))
        except Exception as exc:  # the server keeps serving; the user sees why
            self.store.fail(separation_id, f"separation failed ({type(exc).__name__}: {exc})")

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def waveform_png(path, out, *, width: int = 900, height: int = 90) -> Path:
    """Draw a stem's waveform (min/max envelope of its channels' mean) as a small PNG, reading it block by block.

    Used by: helpers.app.server.Workers
    """
    import numpy as np
    import soundfile as sf
    from matplotlib.figure import Figure

    info = sf.info(str(path))
    block = max(1, -(-info.frames // width))
    lows, highs = [], []
    for chunk in sf.blocks(str(path), blocksize=block, dtype="float32", always_2d=True):
        mono = chunk.mean(axis=1)
        lows.append(mono.min())
        highs.append(mono.max())
    figure = Figure(figsize=(width / 100, height / 100), dpi=100)
    ax = figure.add_axes((0, 0, 1, 1))
    x = np.arange(len(lows))
    ax.fill_between(x, lows, highs, color="#3b6ea8", lw=0)
    peak = max(1e-6, float(np.max(np.abs([*lows, *highs]))) if lows else 1.0)
    ax.set(xlim=(0, max(1, len(lows) - 1)), ylim=(-peak, peak))
    ax.axis("off")
    figure.savefig(out, transparent=True)
    return Path(out)


def display_name(filename) -> str:
    """The uploaded file's name, for display only (files are stored under random names).

    Used by: helpers.app.server.create_app

    Raises
    ------
    ParameterError
        If it is missing, longer than 255 characters, or not a plain file name (a path, ``..``, a NUL or another
        control character).
    """
    if not filename:
        raise ParameterError("the upload has no file name")
    if len(filename) > 255:
        raise ParameterError(f"file name of {len(filename)} characters is too long (at most 255)")
    if (re.search(r"[\x00-\x1f\x7f/\\]", filename) or filename.strip(". ") == ""):
        raise ParameterError(f"file name {filename[:60]!r} is not a plain file name")
    return filename


def create_app(settings: Settings | None = None):
    """Build the web app (FastAPI): the page, the JSON API, the store and the workers.

    Used by: helpers.app.start, helpers.app.main

    Parameters
    ----------
    settings : Settings or None

    Returns
    -------
    app : fastapi.FastAPI
        ``app.state.store`` and ``app.state.workers`` hold the store and the pool; they start with the app's
        lifespan (a restart marks interrupted separations failed) and stop with it.
    """
    from helpers import models  # here: importing helpers.app stays free of Keras (TensorFlow) until an app is made

    settings = settings or Settings()
    root = Path(settings.root) if settings.root is not None else data_dir() / "app"
    model_targets = models.file_settings(settings.model)["targets"]  # checked at start, without loading the model
    default_targets = [t for t in DEFAULT_TARGETS if t in model_targets] or model_targets  # pre-ticked on the page

    @asynccontextmanager
    async def lifespan(app):
        store = Store(root)
        store.recover()
        store.expire(settings.retention_days * 86400)
        app.state.store, app.state.workers = store, Workers(store, settings)
        yield
        app.state.workers.close()

    app = FastAPI(title="Source separation", lifespan=lifespan)
    app.state.settings = settings

    def user(response: Response, token: str | None) -> int:
        user_id, new_token = app.state.store.user(token)
        if new_token:
            response.set_cookie(COOKIE, new_token, httponly=True, samesite="lax", max_age=365 * 86400)
        return user_id

    def owned(user_id: int, separation_id: str) -> dict:
        job = app.state.store.get(user_id, separation_id)
        if job is None:
            raise HTTPException(404, "no such separation")
        return job

    @app.get("/", response_class=HTMLResponse)
    def page(separator_session: str | None = Cookie(None)):
        html = HTMLResponse((STATIC / "index.html").read_text())
        user(html, separator_session)
        return html

    @app.get("/api/config")
    def config(response: Response, separator_session: str | None = Cookie(None)):
        user(response, separator_session)
        return {"targets": model_targets, "default_targets": default_targets, "max_upload_mb": settings.max_upload_mb,
                "quota_mb": settings.quota_mb,
                "retention_days": settings.retention_days, "max_active": settings.max_active}

    @app.post("/api/separations", status_code=202)
    async def create(request: Request, response: Response, file: UploadFile = File(...),
                     targets: str = Form(" ".join(default_targets)), wiener: bool = Form(False),
                     separator_session: str | None = Cookie(None)):
        store = app.state.store
        user_id = user(response, separator_session)
        limit = int(settings.max_upload_mb * 1e6)
        try:
            name = display_name(file.filename)
            chosen = check_targets(targets.replace(",", " ").split())
            missing = [t for t in chosen if t not in model_targets]
            if missing:
                raise ParameterError(f"target {missing[0]!r} is not separated by this model; it separates "
                                     + ", ".join(model_targets))
        except ParameterError as exc:
            raise HTTPException(400, str(exc)) from None
        if int(request.headers.get("content-length") or 0) > limit + 1_000_000:
            raise HTTPException(413, f"the upload is larger than the limit of {settings.max_upload_mb:g} MB")
        upload = store.incoming / secrets.token_hex(16)
        try:
            size = 0
            with open(upload, "wb") as out:
                while chunk := await file.read(1 << 20):
                    size += len(chunk)
                    if size > limit:
                        raise HTTPException(413, f"the upload is larger than the limit of "
                                                 f"{settings.max_upload_mb:g} MB")
                    out.write(chunk)
            try:
                info = audio.check_file(upload)  # by content: libsndfile reads the header, never the name
            except ParameterError as exc:
                raise HTTPException(400, str(exc).replace(str(upload), name)) from None
            need = size + info.frames * info.channels * 4 * (len(chosen) + 1)  # float32 stems and residual
            quota = int(settings.quota_mb * 1e6)
            if store.used_bytes(user_id) + need > quota:
                raise HTTPException(413, f"this separation needs {need / 1e6:.0f} MB and your storage quota of "
                                         f"{settings.quota_mb:g} MB would be exceeded; delete old separations")
            store.expire(settings.retention_days * 86400)
            try:
                separation_id = store.add(user_id, name, chosen, wiener, upload, settings.max_active)
            except LimitError as exc:
                raise HTTPException(429, str(exc)) from None
        finally:
            upload.unlink(missing_ok=True)  # moved into the store on success; never left behind
        app.state.workers.submit(separation_id)
        response.headers["Location"] = f"/api/separations/{separation_id}"
        return {"id": separation_id}

    @app.get("/api/separations")
    def history(response: Response, separator_session: str | None = Cookie(None)):
        return app.state.store.history(user(response, separator_session))

    @app.get("/api/separations/{separation_id}")
    def status(separation_id: str, response: Response, separator_session: str | None = Cookie(None)):
        return owned(user(response, separator_session), separation_id)

    def stem_file(separation_id, name, suffix, separator_session):
        job = owned(app.state.store.user(separator_session)[0], separation_id)
        if job["status"] != "done" or name not in job["stems"]:
            raise HTTPException(404, f"no stem {name!r} in this separation")
        return job, app.state.store.files / separation_id / f"{name}{suffix}"

    @app.get("/api/separations/{separation_id}/stems/{name}.wav")
    def stem(separation_id: str, name: str, separator_session: str | None = Cookie(None)):
        job, path = stem_file(separation_id, name, ".wav", separator_session)
        return FileResponse(path, media_type="audio/wav", filename=f"{Path(job['name']).stem} - {name}.wav")

    @app.get("/api/separations/{separation_id}/stems/{name}.png")
    def picture(separation_id: str, name: str, separator_session: str | None = Cookie(None)):
        return FileResponse(stem_file(separation_id, name, ".png", separator_session)[1], media_type="image/png")

    @app.get("/api/separations/{separation_id}/stems.zip")
    def archive(separation_id: str, separator_session: str | None = Cookie(None)):
        job = owned(app.state.store.user(separator_session)[0], separation_id)
        if job["status"] != "done":
            raise HTTPException(404, "this separation has no stems yet")
        folder = app.state.store.files / separation_id
        fd, tmp = tempfile.mkstemp(suffix=".zip")
        with open(fd, "wb") as out, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as bundle:
            for name in job["stems"]:
                bundle.write(folder / f"{name}.wav", f"{Path(job['name']).stem}/{name}.wav")
        return FileResponse(tmp, media_type="application/zip", filename=f"{Path(job['name']).stem} - stems.zip",
                            background=BackgroundTask(Path(tmp).unlink, missing_ok=True))

    @app.delete("/api/separations/{separation_id}", status_code=204)
    def delete(separation_id: str, response: Response, separator_session: str | None = Cookie(None)):
        job = owned(user(response, separator_session), separation_id)
        if job["status"] == "running":
            raise HTTPException(409, "this separation is running; delete it when it is done")
        app.state.store.delete(separation_id)
        return Response(status_code=204)

    return app
