"""All projects of one server in memory, their lock, and saving them to the store."""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from localvision import exceptions as errors
from localvision.persistence import StaleProject, Store
from localvision.state.entities import Project, utc_now

CONFLICT_ATTEMPTS = 5
P = ParamSpec("P")
R = TypeVar("R")


class Registry:
    """Projects by id, loaded from ``store`` at start; every change is saved before the call returns.

    ``lock`` guards the live records; only the state services take it, and they hand out snapshots.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.lock = threading.RLock()
        self.projects: dict[str, Project] = {}
        self._stored: dict[
            str, dict
        ] = {}  # project id -> the document last read from or written to the store
        for document in store.load_projects():
            self._restore(document["id"], document)

    def project(self, project_id: str) -> Project:
        """The live project (the caller holds ``lock``), or NotFoundProject."""
        project = self.projects.get(project_id.lower())
        if project is None:
            raise errors.PROJECT_NOT_FOUND.error()
        return project

    def save(self, project: Project) -> None:
        """Save the project; if another writer saved it meanwhile, take the stored one instead of this
        change and raise ``StaleProject`` (``retry_on_conflict`` runs the operation again on it). If the
        store fails, the change is dropped from memory too: memory never holds what the store does not."""
        project.last_modified = utc_now()
        document = project.to_document()
        try:
            self.store.save_project(project.id, document)
        except StaleProject:
            self._restore(project.id, self.store.reload_project(project.id))
            raise
        except Exception:
            self._restore(project.id, self._stored.get(project.id))
            raise
        self._stored[project.id] = document

    def forget(self, project_id: str) -> None:
        """A deleted project."""
        self.projects.pop(project_id, None)
        self._stored.pop(project_id, None)

    def _restore(self, project_id: str, document: dict | None) -> None:
        if document is None:
            self.forget(project_id)
        else:
            self.projects[project_id] = Project.from_document(copy.deepcopy(document))  # shares nothing
            self._stored[project_id] = document


def retry_on_conflict(operation: Callable[P, R]) -> Callable[P, R]:
    """Run a state operation again (on the project as stored now) when its save met another writer's."""

    @functools.wraps(operation)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        for _ in range(CONFLICT_ATTEMPTS - 1):
            try:
                return operation(*args, **kwargs)
            except StaleProject:
                continue
        try:
            return operation(*args, **kwargs)
        except StaleProject:
            raise errors.PROJECT_CONFLICT.error() from None

    return run
