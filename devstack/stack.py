"""A private local stack for a test module or a benchmark run: Azurite, localvision and devhost on free
ports with data in a folder of its own. Nothing here touches a running ``make up`` stack; every service is
stopped by ``LocalStack.stop()``.

A keyless stack (``keyless=True``) signs in as CUSTOMVISION_AUTH=identity does in Azure: devhost gets no
Custom Vision key, its DefaultAzureCredential takes tokens from a local managed identity endpoint
(devstack.identity, the stand-in for Entra ID), and localvision trusts that issuer and has keys nobody
knows."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from devstack import azurite as azurite_service
from devstack import devhost as devhost_service
from devstack import localvision as localvision_service
from devstack import settings, vision
from devstack.identity import IdentityEndpoint, TokenIssuer
from devstack.processes import Child


@dataclass
class LocalStack:
    """Azurite + localvision (+ devhost, started separately) in ``workdir``."""

    workdir: Path
    azurite: Child
    localvision: localvision_service.LocalVision
    devhost: Child | None = None
    values: dict[str, str] = field(default_factory=dict)
    overrides: dict[str, str] = field(default_factory=dict)
    host_json: Path | None = None
    in_process: bool = False  # localvision served from a thread of this process (see devstack.localvision)
    identity: IdentityEndpoint | None = None  # a keyless stack's token service
    vision_keys: tuple[str, str] = (vision.TRAINING_KEY, vision.PREDICTION_KEY)

    @classmethod
    def start(
        cls, workdir: Path, *localvision_args: str, in_process: bool = False, keyless: bool = False
    ) -> LocalStack:
        identity = IdentityEndpoint(TokenIssuer()) if keyless else None
        keys = (secrets.token_urlsafe(24), secrets.token_urlsafe(24)) if keyless else cls.vision_keys
        store = azurite_service.start(workdir / "azurite", in_memory=True)
        try:
            vision_server = localvision_service.start(
                cls.vision_data(workdir), *keys, *localvision_args, *cls._trust_args(workdir, identity),
                in_process=in_process,
            )  # fmt: skip
        except Exception:
            store.stop()
            if identity is not None:
                identity.stop()
            raise
        return cls(workdir, store, vision_server, in_process=in_process, identity=identity, vision_keys=keys)

    @staticmethod
    def _trust_args(workdir: Path, identity: IdentityEndpoint | None) -> tuple[str, ...]:
        if identity is None:
            return ()
        return ("--trust-token-issuer", str(identity.issuer.write_trust(workdir / "identity" / "trust.json")))

    @staticmethod
    def vision_data(workdir: Path) -> Path:
        return workdir / "localvision" / "data"

    @property
    def conn_str(self) -> str:
        return azurite_service.connection_string(self.azurite.ports)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.localvision.ports['http']}"

    @property
    def devhost_url(self) -> str:
        assert self.devhost is not None, "devhost is not running"
        return f"http://127.0.0.1:{self.devhost.ports['http']}"

    def start_devhost(
        self,
        overrides: dict[str, str] | None = None,
        host_json: Path | None = None,
        runner: Sequence[str] = devhost_service.DEVHOST,
    ) -> None:
        """devhost on function_app.py with the stack's settings and ``overrides``; ``runner`` in place of
        ``-m devhost`` (e.g. a benchmark's timing probe)."""
        self.overrides, self.host_json = dict(overrides or {}), host_json
        values = settings.for_stack(self.conn_str, self.endpoint, vision.keys(), self.overrides)
        if self.identity is not None:  # no key at all: the app signs in with the endpoint's tokens
            for name in ("CUSTOMVISION_TRAINING_KEY", "CUSTOMVISION_PREDICTION_KEY"):
                del values[name]
            values.update({"CUSTOMVISION_AUTH": "identity", **self.identity.environment(), **self.overrides})
        self.values = values
        self.devhost = devhost_service.start(self.workdir / "devhost", self.values, host_json, runner)

    def restart_devhost(self) -> None:
        """Start devhost again with the same settings (same host id: it finds its blob receipts)."""
        if self.devhost is not None:
            self.devhost.stop(timeout=60)
        self.start_devhost(self.overrides, host_json=self.host_json)

    def restart_localvision(self, *localvision_args: str) -> None:
        """The same localvision (data folder, port, way of running) again, with these options."""
        port = self.localvision.ports["http"]
        self.localvision.stop()
        self.localvision = localvision_service.start(
            self.vision_data(self.workdir), *self.vision_keys, *localvision_args,
            *self._trust_args(self.workdir, self.identity), port=port, in_process=self.in_process,
        )  # fmt: skip

    def stop(self) -> None:
        for service in (self.devhost, self.localvision, self.azurite, self.identity):
            if service is not None:
                service.stop(timeout=60)
