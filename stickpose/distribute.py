"""How a run trains: on this process's default device, mirrored over its local devices, or
across processes and machines (``stickpose train --strategy``).

The strategy is how a run trains, not what: it is never part of the run's config. Every
worker trains the same model on its own part of each global batch (``--batch-size`` images
in all; the streams' ``shard``), so that the workers' parts of a step are together the
single-process batch of that step; with several replicas BatchNormalization uses the
whole global batch's statistics, so that training is the single-process training up to
rounding. Worker 0 (the ``chief`` task if the cluster names one) is
the chief: only it writes the run directory and records the run; the others take part in
every collective operation and write nothing.

``multiworker`` reads the cluster from the standard ``TF_CONFIG`` environment variable, e.g.
``{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker",
"index": 0}}`` (the same cluster on every worker, each with its own task).
"""
from __future__ import annotations

import contextlib
import json
import os
import threading
from dataclasses import dataclass

from .errors import StickposeError

STRATEGIES = ("default", "mirrored", "multiworker")
TASK_TYPES = ("chief", "worker")        # the tasks that train (chief first, as TensorFlow)


class DistributeError(StickposeError):
    """A strategy, cluster or batch size that cannot be used."""


@dataclass(frozen=True)
class Workers:
    """This process among the processes that train together: ``index`` of ``count``
    (worker 0 is the chief)."""

    index: int = 0
    count: int = 1

    @property
    def chief(self) -> bool:
        return self.index == 0


def cluster_workers(tf_config: str | None) -> Workers:
    """This process's place in the cluster of the ``TF_CONFIG`` text, or a
    ``DistributeError`` saying what is wrong with it."""
    example = ('e.g. {"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": '
               '{"type": "worker", "index": 0}}')
    if not tf_config:
        raise DistributeError("--strategy multiworker needs the TF_CONFIG environment "
                              f"variable on every worker, {example}")
    try:
        values = json.loads(tf_config)
    except ValueError as error:
        raise DistributeError(f"TF_CONFIG is not valid JSON ({error}); {example}") from None
    if not isinstance(values, dict) or not all(k in values for k in ("cluster", "task")):
        raise DistributeError(f"TF_CONFIG needs a \"cluster\" and a \"task\"; {example}")
    cluster, task = values["cluster"], values["task"]
    if not isinstance(cluster, dict) or not all(
            isinstance(a, list) and a and all(isinstance(h, str) and ":" in h for h in a)
            for a in cluster.values()):
        raise DistributeError(f"TF_CONFIG's cluster {cluster!r} must map each task type to "
                              "a list of host:port addresses")
    for address in (a for addresses in cluster.values() for a in addresses):
        port = address.rpartition(":")[2]
        if not (port.isdigit() and 0 < int(port) < 65536) or not address.rpartition(":")[0]:
            raise DistributeError(f"TF_CONFIG's cluster address {address!r} is not host:port "
                                  "with a port from 1 to 65535")
    unknown = sorted(set(cluster) - set(TASK_TYPES))
    if unknown or not any(t in cluster for t in TASK_TYPES) or len(cluster.get("chief", [])) > 1:
        raise DistributeError(f"TF_CONFIG's cluster has task types {', '.join(cluster)}; "
                              "multiworker training takes \"worker\" tasks and at most one "
                              "\"chief\"")
    kind, index = (task.get("type"), task.get("index")) if isinstance(task, dict) else (None,
                                                                                         None)
    if kind not in cluster or not isinstance(index, int) or isinstance(index, bool) or \
            not 0 <= index < len(cluster[kind]):
        raise DistributeError(f"TF_CONFIG's task {task!r} is not in its cluster: expected "
                              "{\"type\": one of " + ", ".join(cluster) + ", \"index\": 0 ... "
                              "the number of that type's addresses - 1}")
    chiefs = len(cluster.get("chief", []))
    return Workers(index if kind == "chief" else chiefs + index,
                   chiefs + len(cluster.get("worker", [])))


def strategy_workers(name: str, batch_size: int | None = None) -> Workers:
    """Everything about ``--strategy name`` that can be checked before any worker connects:
    the name, the cluster (multiworker) and, given ``batch_size``, that the global batch
    splits evenly over the workers. Returns this process's place among them."""
    if name not in STRATEGIES:
        raise DistributeError(f"strategy {name!r} is unknown; expected one of "
                              f"{', '.join(STRATEGIES)}")
    workers = cluster_workers(os.environ.get("TF_CONFIG")) if name == "multiworker" else \
        Workers()
    if batch_size is not None:
        check_batch(batch_size, workers.count, "worker")
    return workers


def check_batch(batch_size: int, parts: int, what: str) -> int:
    """The part of a global batch of ``batch_size`` that each of ``parts`` gets, or a
    ``DistributeError`` if it does not split evenly."""
    if batch_size % parts:
        raise DistributeError(f"batch size {batch_size} does not split evenly over {parts} "
                              f"{what}s; use a multiple of {parts} (the batch size is the "
                              f"global batch: each {what} trains on batch size / {parts} "
                              "images a step)")
    return batch_size // parts


class Distribution:
    """A started strategy (``tf.distribute``) and this process's place among the workers.
    ``default`` is TensorFlow's default strategy, that is training as without one. Making a
    ``multiworker`` one connects to the cluster: it waits until every worker has started."""

    def __init__(self, name: str = "default"):
        self.name = name
        self.workers = strategy_workers(name)
        from .quiet_tf import quiet_stderr, tf

        with quiet_stderr():      # a multi-worker server logs TensorFlow's start-up again
            self.strategy = {"default": tf.distribute.get_strategy,
                             "mirrored": tf.distribute.MirroredStrategy,
                             "multiworker": tf.distribute.MultiWorkerMirroredStrategy}[name]()
        self.replicas = self.strategy.num_replicas_in_sync

    @property
    def chief(self) -> bool:
        return self.workers.chief

    def check_batch(self, batch_size: int) -> None:
        """A ``DistributeError`` unless the global batch splits evenly over the workers and
        their replicas (devices)."""
        check_batch(batch_size, self.workers.count, "worker")
        check_batch(batch_size, self.replicas, "replica")

    def synchronize_batch_norm(self, model) -> None:
        """With several replicas, ``model``'s BatchNormalization layers normalise by the
        statistics of the whole global batch (``synchronized``; three small all-reduces a
        layer a step) rather than each replica's part: training is then the single-process
        training, up to rounding, as a strategy must be to stay out of the run's config. (A
        saved model keeps the setting; it only matters in training.)"""
        if self.replicas == 1:
            return
        import keras

        for layer in model._flatten_layers():
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.synchronized = True

    def scope(self):
        """Where the model, its optimizer and ``fit`` are made and run."""
        if self.workers.count == 1:
            return self.strategy.scope()
        return _fit_across_workers(self.strategy)

    def distribute(self, stream, batch_size: int):
        """The training data: ``stream(shard)`` -> a dataset of batches of ``batch_size``
        (the global batch), of which ``shard=(index, count)`` is the worker's part. With a
        strategy each worker's part is split into per-replica batches, and tf.distribute
        neither shards nor rebatches it again."""
        if self.name == "default":
            return stream((0, 1))

        def per_worker(context):
            shard = (context.input_pipeline_id, context.num_input_pipelines)
            return stream(shard).rebatch(context.get_per_replica_batch_size(batch_size),
                                         drop_remainder=True)
        return self.strategy.distribute_datasets_from_function(per_worker)

    def from_chief(self, values):
        """The chief's float64 array ``values`` on every worker (a collective: every worker
        calls it at the same point with an array of the same shape; theirs are ignored)."""
        import numpy as np

        values = np.asarray(values, np.float64)
        if self.workers.count == 1:
            return values
        from .quiet_tf import tf

        zeros = np.zeros_like(values)
        value = self.strategy.experimental_distribute_values_from_function(
            lambda context: tf.constant(values if context.replica_id_in_sync_group == 0
                                        else zeros))
        return self.strategy.reduce("SUM", value, axis=None).numpy()

    def relay(self, decide, errors: tuple = ()):
        """``decide()`` run by the chief, its result (JSON) returned on every worker; a user
        error it raises (``StickposeError``, ``OSError`` or one of ``errors``) is raised on
        the chief and, as a ``DistributeError`` quoting it, on the others (a collective)."""
        if self.workers.count == 1:
            return decide()
        if self.chief:
            try:
                result = decide()
            except (StickposeError, OSError, *errors) as error:
                text = f"{error.strerror or error}: {error.filename or ''}".rstrip(": ") \
                    if isinstance(error, OSError) else str(error)
                self._bytes_from_chief(json.dumps({"error": text}).encode())
                raise
            self._bytes_from_chief(json.dumps({"result": result}).encode())
            return result
        message = json.loads(self._bytes_from_chief(b""))
        if "error" in message:
            raise DistributeError(f"worker 0 (the chief) stopped: {message['error']}")
        return message["result"]

    def _bytes_from_chief(self, message: bytes) -> bytes:
        import numpy as np

        length = int(self.from_chief(np.array([len(message)]))[0])
        mine = np.frombuffer(message, np.uint8) if self.chief else np.zeros(length)
        return self.from_chief(mine).astype(np.uint8).tobytes()

    def sync_variables(self, variables) -> None:
        """Give ``variables`` (Keras variables made under ``scope``) the chief's values on
        every worker: after the chief alone loaded them (``--resume``, ``--init``)."""
        if self.workers.count == 1:
            return
        import numpy as np

        values = [np.asarray(v.numpy()) for v in variables]
        flat = self.from_chief(np.concatenate([v.ravel().astype(np.float64) for v in values]
                                              or [np.zeros(0)]))
        offset = 0
        for variable, value in zip(variables, values):
            variable.assign(flat[offset:offset + value.size].reshape(value.shape)
                            .astype(value.dtype))
            offset += value.size

    def alone(self, work):
        """``work()`` (saving or loading on the chief alone) with no strategy in scope, so that
        what Keras makes meanwhile (it makes a throw-away optimizer to save one) is this
        worker's own and no collective waits for the others: in a thread of its own, where
        tf.distribute's scope does not reach."""
        if self.workers.count == 1:
            return work()
        outcome = {}

        def run():
            try:
                outcome["value"] = work()
            except BaseException as error:           # raised again in the caller's thread
                outcome["error"] = error
        thread = threading.Thread(target=run, name="stickpose-chief-alone")
        thread.start()
        interrupted = None
        while thread.is_alive():        # a Ctrl-C waits for the work (a commit) to end
            try:
                thread.join()
            except KeyboardInterrupt as error:
                interrupted = error
        if interrupted is not None:
            raise interrupted
        if "error" in outcome:
            raise outcome["error"]
        return outcome.get("value")

    @contextlib.contextmanager
    def lost_workers(self):
        """A worker that stopped or cannot be reached, as a one-line ``DistributeError``
        (TensorFlow notices within seconds and aborts the other workers' collectives)."""
        if self.workers.count == 1:
            yield
            return
        from .quiet_tf import tf

        try:
            yield
        except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
                tf.errors.CancelledError, tf.errors.AbortedError) as error:
            raise DistributeError(
                f"worker {self.workers.index} of {self.workers.count}: training stopped because "
                f"another worker stopped or cannot be reached ({type(error).__name__}; see "
                "that worker's output); start every worker again with --resume to continue "
                "the chief's run") from None


@contextlib.contextmanager
def _fit_across_workers(strategy):
    """``strategy.scope()`` with two repairs to Keras 3's TensorFlow trainer, which cannot
    ``fit`` under MultiWorkerMirroredStrategy as released (keras-team/keras#20329,
    tensorflow/tensorflow#72388; both checked failing without them on Keras 3.15.1, TF 2.21):

    - before training it all-reduces a whole input batch across workers only to learn its
      shapes, which fails for a batch of several tensors: here it takes the shapes from the
      worker's own first batch;
    - it reduces the step's logs (scalars) "along axis 0", which fails: here they are read
      from the first replica, as they are the same on every replica (the metrics' variables
      are all-reduced as they update).

    Both are undone when the block ends."""
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer

    reduce_per_replica = trainer.reduce_per_replica
    symbolic_build = trainer.TensorFlowTrainer._maybe_symbolic_build

    def first_replica(value):
        return strategy.experimental_local_results(value)[0]

    def reduce_logs(values, reduction_strategy, reduction):
        if reduction in ("auto", "mean") and \
                trainer._collective_all_reduce_multi_worker(reduction_strategy):
            return tree.map_structure(first_replica, values)
        return reduce_per_replica(values, reduction_strategy, reduction)

    def build_from_own_batch(model, iterator=None, data_batch=None):
        if iterator is not None and data_batch is None:
            for _, _, batches in iterator:
                data_batch = tree.map_structure(first_replica, next(batches))
                break
        with strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    trainer.reduce_per_replica = reduce_logs
    trainer.TensorFlowTrainer._maybe_symbolic_build = build_from_own_batch
    try:
        with strategy.scope():
            yield
    finally:
        trainer.reduce_per_replica = reduce_per_replica
        trainer.TensorFlowTrainer._maybe_symbolic_build = symbolic_build
