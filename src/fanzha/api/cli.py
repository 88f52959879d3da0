"""``fanzha serve``."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(host: str = typer.Option(None, help="Address to listen on (FANZHA_HOST)."),
              port: int = typer.Option(None, help="Port (FANZHA_PORT)."),
              upgrade: bool = typer.Option(True, help="Apply database migrations first.")) -> None:
        """Start the API (OpenAPI at /docs)."""
        import uvicorn

        from fanzha.api.app import create_app
        from fanzha.settings import get_settings
        from fanzha.store import db

        settings = get_settings()
        if upgrade:
            db.upgrade(settings.database_url)
        uvicorn.run(create_app(settings), host=host or settings.host, port=port or settings.port)
