"""Keys of methods and classes: the helpers a method calls through self, a class's
members rebound or changed in place, subclasses."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from test_decorators import notebook, run_cell, run_python

import artifact_cache as ac


class TestClassMembers:
    """A class the step reaches, or an argument's class, changed after a first call."""

    def test_rebound_class_member_misses(self, mem_store: ac.ArtifactStore) -> None:
        """Rebinding an attribute or a method of a class the step uses misses, with the
        key a new wrapper (as in a new process) computes."""

        class Model:
            scale = 1

            def apply(self, x: int) -> int:
                return x * self.scale

        @mem_store.step
        def predict(x: int) -> int:
            return Model().apply(x)

        assert predict(2) == 2
        Model.scale = 10
        assert (predict.call(2).cached, predict(2)) == (False, 20)
        assert predict.key(2) == mem_store.step(predict.__wrapped__).key(2)

        def negate(self: Model, x: int) -> int:
            return -x

        Model.apply = negate  # type: ignore[method-assign]
        assert f"{__name__}:{negate.__qualname__}" in predict.explain(2).changed_code
        assert (predict.call(2).cached, predict(2)) == (False, -2)
        assert predict.key(2) == mem_store.step(predict.__wrapped__).key(2)

    def test_override_added_to_subclass_misses(self, mem_store: ac.ArtifactStore) -> None:
        """An attribute set on a subclass, overriding what it inherited, misses."""

        class Base:
            scale = 1

            def apply(self, x: int) -> int:
                return x * self.scale

        class Sub(Base):
            pass

        @mem_store.step
        def predict(x: int) -> int:
            return Sub().apply(x)

        assert predict(2) == 2
        Sub.scale = 7
        assert (predict.call(2).cached, predict(2)) == (False, 14)

    ARGUMENT_CLASS = """
        import sys
        import artifact_cache as ac
        store = ac.open_store(sys.argv[1])

        TABLE = {"k": 1}

        class Model:
            scale = 1
            weights = [1]
            def apply(self, x):
                return x * self.scale * self.weights[0] * TABLE["k"]

        @store.step
        def predict(model, x):
            return model.apply(x)

        if sys.argv[3] == "first":
            print(predict(Model(), 2), predict.key(Model(), 2))
        if sys.argv[2] == "rebind":
            Model.scale = 10
        elif sys.argv[2] == "in-place":
            Model.weights[0] = 10
        else:
            TABLE["k"] = 10
        print(predict(Model(), 2), predict.key(Model(), 2))
    """

    @pytest.mark.parametrize("change", ["rebind", "in-place", "constant"])
    def test_argument_class_attribute_changed(self, tmp_path: Path, change: str) -> None:
        """An instance argument's class attribute rebound or changed in place (or a
        constant its method reads) after a call: the key is the one a fresh process
        computes, and the result is the new one."""
        url = str(tmp_path / "store")
        first, after = run_python(self.ARGUMENT_CLASS, url, change, "first").splitlines()
        (fresh,) = run_python(self.ARGUMENT_CLASS, url, change, "fresh").splitlines()
        assert first.split()[0] == "2" and after.split()[0] == "20"
        assert after == fresh and first.split()[1] != after.split()[1]


class TestMethodHelpers:
    """A memoised method follows the class that defines it, and its subclasses."""

    HELPER_CELL = """
        class Model:
            def _scale(self, x):
                return x * {factor}

            @store.step
            def predict(self, x):
                return self._scale(x) + 1
    """

    def test_helper_method_edit_misses(self, mem_store: ac.ArtifactStore) -> None:
        """Editing a helper the method calls through self (class cell re-run) misses."""
        ns = notebook(mem_store)
        run_cell(self.HELPER_CELL.format(factor=2), ns)
        assert ns["Model"]().predict(10) == 21
        run_cell(self.HELPER_CELL.format(factor=3), ns)
        explanation = ns["Model"]().predict.explain(10)
        assert explanation.changed_code == ("__main__:Model._scale",)
        call = ns["Model"]().predict.call(10)
        assert (call.cached, call.value) == (False, 31)

    def test_helper_method_of_local_class_is_followed(self, mem_store: ac.ArtifactStore) -> None:
        """A class defined in a function (no module name reaches it) is followed too."""

        def make(factor: int) -> Any:
            class Model:
                def _scale(self, x: int) -> int:
                    return x * factor

                @mem_store.step
                def predict(self, x: int) -> int:
                    return self._scale(x) + 1

            return Model

        double, triple = make(2)(), make(3)()
        assert double.predict.step_id == triple.predict.step_id
        assert double.predict(10) == 21
        assert triple.predict.call(10).value == 31
        assert double.predict.key(10) != triple.predict.key(10)
        assert make(2)().predict.call(10).cached

    def test_subclass_overriding_a_helper_keys_apart(self, mem_store: ac.ArtifactStore) -> None:
        """Bound to a subclass's instance, whose helper overrides the base's, a method
        keys apart; bound to the defining class's instance, its key is unchanged."""

        class Base:
            def _scale(self, x: int) -> int:
                return x * 2

            @mem_store.step
            def predict(self, x: int) -> int:
                return self._scale(x)

        class Sub(Base):
            def _scale(self, x: int) -> int:
                return x * 3

        base_key = Base().predict.key(10)
        assert Base().predict(10) == 20
        assert (Sub().predict.call(10).cached, Sub().predict(10)) == (False, 30)
        assert Sub().predict.call(10).cached and Base().predict.call(10).value == 20
        assert Base().predict.key(10) == base_key != Sub().predict.key(10)

    def test_only_methods_reading_self_follow_their_class(self) -> None:
        """A method that reads self follows its class; one that never does keeps its key."""
        from userhelpers import stepmod

        from artifact_cache.fingerprint import code_fingerprint

        parts = code_fingerprint(stepmod.Scaler.scale).parts
        assert set(parts) == {
            f"userhelpers.stepmod:Scaler{name}" for name in ("", ".__init__", ".scale")
        }

        class Plain:
            def twice(self, x: int) -> int:
                return 2 * x

        assert set(code_fingerprint(Plain.twice, owner=Plain).parts) == {
            f"{__name__}:{Plain.twice.__qualname__}"
        }
        ns = notebook(ac.open_store("memory://static-method-parts"))
        run_cell(
            """
            class Tools:
                @staticmethod
                @store.step
                def twice(x):
                    return 2 * x
            """,
            ns,
        )
        step = vars(ns["Tools"])["twice"].__func__
        assert set(step._spec.code_fingerprint().parts) == {"__main__:Tools.twice"}

    def test_helper_method_edit_misses_in_a_new_process(self, tmp_path: Path) -> None:
        """A module's helper method edited between two processes: the second one misses."""
        module = textwrap.dedent(
            """
            import os
            import artifact_cache as ac
            store = ac.open_store(os.environ["STORE"])

            class Model:
                def _scale(self, x):
                    return x * {factor}

                @store.step
                def predict(self, x):
                    return self._scale(x) + 1
            """
        )
        script = """
            import sys
            sys.path.insert(0, sys.argv[1])
            import model_helper_edit as m
            call = m.Model().predict.call(10)
            print(call.value, call.cached)
        """
        env = {"STORE": str(tmp_path / "store"), "PYTHONDONTWRITEBYTECODE": "1"}
        path = tmp_path / "model_helper_edit.py"
        results = []
        for factor in (2, 3, 3):
            path.write_text(module.format(factor=factor))
            results.append(run_python(script, str(tmp_path), env=env).split())
        assert results == [["21", "False"], ["31", "False"], ["31", "True"]]
