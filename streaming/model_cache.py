"""The promoted model as the stream sees it: re-read only when the `models` table changes."""

from __future__ import annotations

import logging

from pyspark.sql import SparkSession

from segstream.config import Settings
from segstream.model import registry
from segstream.model.record import SegmentModel

log = logging.getLogger(__name__)


class ModelCache:
    def __init__(self, spark: SparkSession, settings: Settings) -> None:
        self._spark = spark
        self._settings = settings
        self._table_version: int | None = None
        self._model: SegmentModel | None = None

    def get(self) -> SegmentModel | None:
        """The promoted model at the newest `models` version; one whole record, read at one
        Delta version, so a promotion in progress is seen either not at all or completely."""
        version = registry.table_version(self._spark, self._settings)
        if version != self._table_version:
            model = registry.current(self._spark, self._settings, at_version=version)
            if model is not None and (self._model is None or model.version != self._model.version):
                log.info("scoring with model version %d (k=%d)", model.version, model.k)
            self._model, self._table_version = model, version
        return self._model

    def version(self, version: int) -> SegmentModel:
        """The model `version`, whether promoted or not (a replayed batch's model).

        Raises:
            segstream.model.registry.RegistryError: there is no such version.
        """
        if self._model is not None and self._model.version == version:
            return self._model
        return registry.get(self._spark, self._settings, version)
