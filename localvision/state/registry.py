"""All projects of one server in memory, their lock, and saving them to the store."""

from __future__ import annotations

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
        for document in store.load_projects():
            project = Project.from_document(document)
            self.projects[project.id] = project

    def project(self, project_id: str) -> Project:
        """The live project (the caller holds ``lock``), or NotFoundProject."""
        project = self.projects.get(project_id.lower())
        if project is None:
            raise errors.PROJECT_NOT_FOUND.error()
        return project

    def save(self, project: Project) -> None:
        """Save the project; if another writer saved it meanwhile, take the stored one instead of this
        change and raise ``StaleProject`` (``retry_on_conflict`` runs the operation again on it)."""
        project.last_modified = utc_now()
        try:
            self.store.save_project(project.id, project.to_document())
        except StaleProject:
            document = self.store.reload_project(project.id)
            if document is None:
                self.projects.pop(project.id, None)
            else:
                self.projects[project.id] = Project.from_document(document)
            raise


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
