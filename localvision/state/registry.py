"""All projects of one server in memory, their lock, and saving them to the data folder."""

from __future__ import annotations

import threading

from localvision import exceptions as errors
from localvision.persistence import Store
from localvision.state.entities import Project, utc_now


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
        project.last_modified = utc_now()
        self.store.save_project(project.id, project.to_document())
