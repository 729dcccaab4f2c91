"""The Store protocol as Litestar checks it: every request's injected store is an instance."""

from __future__ import annotations

from server.store.interface import Store


def test_an_open_store_satisfies_the_protocol(store: Store) -> None:
    assert isinstance(store, Store)
    assert isinstance(store, Store)  # the second answer comes from the remembered class


def test_an_object_missing_a_member_does_not_even_after_a_real_store_did(store: Store) -> None:
    assert isinstance(store, Store)

    class Partial:
        clock = store.clock

        def close(self) -> None: ...

    assert not isinstance(Partial(), Store)
    assert not isinstance(object(), Store)
