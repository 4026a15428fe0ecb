from __future__ import annotations

import threading
import time

import pytest

from seqkit.errors import SeqkitError
from seqkit.runtime import (
    DependencyContainer,
    DependencyCycleError,
    DependencyFactoryError,
    DependencyNotFoundError,
    DependencyResolver,
)


class Engine:
    def __init__(self, power: int = 1) -> None:
        self.power = power


class Car:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine


class Chicken:
    pass


class Egg:
    pass


def test_unkeyed_and_keyed_resolution_are_separate() -> None:
    container = DependencyContainer()
    container.register(Engine, lambda _: Engine(1))
    container.register(Engine, lambda _: Engine(8), key="v8")

    assert container.resolve(Engine).power == 1
    assert container.resolve(Engine, key="v8").power == 8


def test_factories_receive_the_resolver() -> None:
    container = DependencyContainer()
    container.register(Engine, lambda _: Engine(3))
    container.register(Car, lambda r: Car(r.resolve(Engine)))

    assert container.resolve(Car).engine.power == 3


def test_singleton_is_built_once_and_transient_every_time() -> None:
    container = DependencyContainer()
    container.register(Engine, lambda _: Engine())
    container.register(Engine, lambda _: Engine(), key="fresh", singleton=False)

    assert container.resolve(Engine) is container.resolve(Engine)
    assert container.resolve(Engine, "fresh") is not container.resolve(Engine, "fresh")


def test_register_instance() -> None:
    container = DependencyContainer()
    engine = Engine(5)
    container.register_instance(Engine, engine)
    assert container.resolve(Engine) is engine


def test_later_registration_overrides_and_keeps_position() -> None:
    container = DependencyContainer()
    container.register(Engine, lambda _: Engine(1), key="a")
    container.register(Engine, lambda _: Engine(2), key="b")
    container.register(Engine, lambda _: Engine(10), key="a")

    assert container.resolve(Engine, "a").power == 10
    assert [(k, e.power) for k, e in container.resolve_all(Engine)] == [("a", 10), ("b", 2)]


def test_resolve_all_returns_keyed_registrations_in_order_and_skips_unkeyed() -> None:
    container = DependencyContainer()
    container.register(Engine, lambda _: Engine(0))
    for index, key in enumerate(["z", "m", "a"]):
        container.register(Engine, lambda _, p=index: Engine(p), key=key)

    assert [k for k, _ in container.resolve_all(Engine)] == ["z", "m", "a"]
    assert container.resolve_all(Car) == []


def test_missing_dependency_names_type_key_and_requesting_chain() -> None:
    container = DependencyContainer()
    container.register(Car, lambda r: Car(r.resolve(Engine, key="v12")))

    with pytest.raises(DependencyNotFoundError) as info:
        container.resolve(Car)

    message = str(info.value)
    assert "Engine['v12']" in message
    assert "test_container.Car" in message
    assert isinstance(info.value, SeqkitError)
    assert isinstance(info.value, LookupError)


def test_resolve_optional_returns_none_when_missing() -> None:
    container = DependencyContainer()
    assert container.resolve_optional(Engine) is None
    container.register(Engine, lambda _: Engine(2))
    resolved = container.resolve_optional(Engine)
    assert resolved is not None
    assert resolved.power == 2


def test_cycle_is_reported_with_its_path() -> None:
    container = DependencyContainer()

    def make_chicken(r: DependencyResolver) -> Chicken:
        r.resolve(Egg)
        return Chicken()

    def make_egg(r: DependencyResolver) -> Egg:
        r.resolve(Chicken)
        return Egg()

    container.register(Chicken, make_chicken)
    container.register(Egg, make_egg)

    with pytest.raises(DependencyCycleError) as info:
        container.resolve(Chicken)

    assert [p.rsplit(".", 1)[-1] for p in info.value.path] == ["Chicken", "Egg", "Chicken"]
    assert "Chicken -> " in str(info.value)


def test_failing_factory_is_wrapped_with_the_path() -> None:
    container = DependencyContainer()

    def broken(_: DependencyResolver) -> Engine:
        raise ValueError("no fuel")

    container.register(Engine, broken)
    container.register(Car, lambda r: Car(r.resolve(Engine)))

    with pytest.raises(DependencyFactoryError, match="no fuel") as info:
        container.resolve(Car)
    assert info.value.path[-1].endswith("Engine")
    assert isinstance(info.value.__cause__, ValueError)


def test_a_failed_singleton_is_retried_on_next_resolution() -> None:
    container = DependencyContainer()
    attempts: list[int] = []

    def flaky(_: DependencyResolver) -> Engine:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("first try fails")
        return Engine(7)

    container.register(Engine, flaky)
    with pytest.raises(DependencyFactoryError):
        container.resolve(Engine)
    assert container.resolve(Engine).power == 7


def test_concurrent_first_resolution_creates_one_singleton() -> None:
    container = DependencyContainer()
    created: list[Engine] = []

    def slow_factory(_: DependencyResolver) -> Engine:
        time.sleep(0.05)  # widen the race window so all threads arrive while it runs
        engine = Engine()
        created.append(engine)
        return engine

    container.register(Engine, slow_factory)
    barrier = threading.Barrier(8)
    results: list[Engine] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        engine = container.resolve(Engine)
        with lock:
            results.append(engine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(created) == 1
    assert len(results) == 8
    assert all(engine is created[0] for engine in results)
