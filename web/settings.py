"""Runtime settings for every hanoi115 command, read from the environment (prefix H115_)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import make_url

DEV_SECRET = "development-only-secret-change-me"


class Settings(BaseSettings):
    """All settings in one place; created when a command starts, never at import."""

    model_config = SettingsConfigDict(env_prefix="H115_", env_file=".env", extra="ignore")

    env: Literal["development", "production", "test"] = "development"
    # Road graph: the OSM file is read only by `hanoi115 graph build`; everything else
    # loads the compiled artifact from graph_dir.
    osm_file: Path | None = None
    graph_dir: Path = Path("var/graph")
    profile_file: Path | None = None  # None: the packaged ambulance profile
    snap_max_m: float = Field(
        default=500.0, gt=0, description="farther than this from a road: outside"
    )
    database_url: str = "sqlite:///var/hanoi115.db"
    stations_file: Path | None = None  # None: the packaged default seven-station set
    fleet_file: Path | None = None
    # OSM hospitals and district polygons: `graph build` copies them into graph_dir (see
    # routing.places); set here, they also override the graph folder's copies at run time.
    hospitals_file: Path | None = None
    districts_file: Path | None = None
    geocode_online: bool = False  # add OpenStreetMap Nominatim results to the address search
    tile_url: str | None = None  # e.g. an OSM tile server when online; None draws our graph
    secret_key: str = DEV_SECRET
    token_ttl_s: int = 12 * 3600
    # A disabled user or revoked token is refused by every process within this time (each
    # process re-reads a user's status at most this often; 0: on every request).
    token_recheck_s: float = Field(
        default=1.0, ge=0, le=2.0, description="revocation takes effect within"
    )
    # Security and operations (web.security, web.audit, web.ops).
    max_body_bytes: int = Field(default=256 * 1024, ge=1024, description="larger bodies: 413")
    login_attempts_per_minute: int = Field(default=5, ge=1, description="per user and address")
    log_json: bool = False  # one JSON object per log line
    host: str = "127.0.0.1"
    port: int = 8115
    # Live service (web): crew heartbeat timeout, websocket replay window, demo fleet.
    heartbeat_timeout_s: float = Field(
        default=90.0, gt=0, description="crew shown disconnected after"
    )
    ack_alert_s: float = Field(
        default=60.0, gt=0, description="a job not acknowledged after this alerts dispatchers"
    )
    ws_ring_size: int = Field(
        default=5000, ge=10, description="recent events kept in memory for resume"
    )
    ws_max_replay: int = Field(
        default=20000, ge=0, description="farther behind than this: a snapshot"
    )
    ws_queue_max: int = Field(
        default=20000, ge=100, description="per-client backlog before a resync"
    )
    demo_calls_per_hour: float = Field(default=12.0, ge=0, description="synthetic calls in --demo")
    # Planner page (web.routes_planner): more scenario files, simulations run at once.
    planner_scenario_dir: Path | None = None  # None: only the packaged data/scenarios
    planner_max_running: int = Field(default=1, ge=1, description="simulation processes at once")
    # Planner jobs' full results, kept across restarts (every server process must see the
    # same folder). None: `planner/` beside the embedded SQLite file, else var/planner.
    planner_dir: Path | None = None

    def planner_folder(self) -> Path:
        """Where planner jobs keep their results (see `planner_dir`)."""
        if self.planner_dir is not None:
            return self.planner_dir
        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite" and url.database:
            return Path(url.database).parent / "planner"
        return Path("var/planner")

    @model_validator(mode="after")
    def _no_dev_secret_in_production(self) -> Settings:
        if self.env == "production" and self.secret_key == DEV_SECRET:
            raise ValueError("H115_SECRET_KEY must be set outside development")
        if self.env == "production" and len(self.secret_key) < 32:  # HS256 wants >= 256 bits
            raise ValueError("H115_SECRET_KEY must be at least 32 characters in production")
        return self
