"""The FastAPI application: one router per capability, every one behind authentication."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError, IntegrityError

from fanzha import __version__
from fanzha.api import admin, audit, auth, cases, gateway, intercept, linking, orders, reference, stats, tracing
from fanzha.api.security import secret_key
from fanzha.errors import InputError
from fanzha.gateway import loop
from fanzha.settings import Settings, get_settings
from fanzha.store.db import make_engine, session_factory
from fanzha.web import STATIC_DIR, install_error_pages
from fanzha.web import pages as console

#: One router per capability; the console's pages last.
ROUTERS = [auth.router, cases.router, orders.router, audit.router, admin.router, reference.router, stats.router,
           gateway.router, tracing.router, linking.router, intercept.router, console.router, console.entry]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="fanzha", version=__version__,
                  description="The anti-telecom-fraud centre platform. Log in at /auth/login "
                              "(people) or send X-API-Key (other systems).")
    engine = make_engine(settings.database_url)
    app.state.settings = settings
    app.state.engine = engine
    # every road of the app that records an answer (callbacks, the liaison inbox, the
    # console) takes the loop's next step the way this deployment runs the loop
    app.state.sessions = session_factory(engine, info={loop.POLICY: loop.deployment_policy(settings)})
    app.state.secret = secret_key(settings)

    @app.exception_handler(InputError)
    async def _bad_input(request: Request, err: InputError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(err), **err.as_dict()})

    @app.exception_handler(DataError)
    async def _unstorable(request: Request, err: DataError) -> JSONResponse:
        # the database refused a value (SQLSTATE class 22): the request's, not the server's, fault
        why = str(getattr(err, "orig", None) or err).splitlines()[0][:300]
        return JSONResponse(status_code=422, content={"detail": f"a value the database cannot store: {why}"})

    @app.exception_handler(IntegrityError)
    async def _conflict(request: Request, err: IntegrityError) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": "conflicts with a stored record"})

    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_error_pages(app)  # browsers get pages for 401/403/404; API callers get JSON as before

    @app.get("/health", tags=["meta"])
    def health() -> dict:
        return {"ok": True, "version": __version__}

    return app
