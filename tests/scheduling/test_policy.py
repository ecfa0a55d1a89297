"""The swap policy as a pure function: who wakes next, who makes room."""

from __future__ import annotations

from orchestrator.scheduling.policy import QueueView, SwapPolicy, plan_swap

POLICY = SwapPolicy(max_queue_wait_s=30.0, min_swap_batch=8, demand_ratio=2.0, swap_cost_s=2.0)


def view(name: str, *, pending: int = 0, wait: float = 0.0, awake: bool = False, rate: float = 0.0, in_flight: int = 0, gb: float = 20.0) -> QueueView:
    return QueueView(name, pending, wait if pending else 0.0, in_flight, rate, awake, gb)


def test_plan_is_none_when_no_sleeping_expert_has_work() -> None:
    assert plan_swap([view("a", awake=True, pending=3), view("b")], 0.0, POLICY) is None


def test_plan_wakes_into_free_memory_without_evicting() -> None:
    plan = plan_swap([view("a", awake=True, pending=50), view("b", pending=1)], 20.0, POLICY)
    assert plan is not None and plan.incoming == "b" and plan.victims == ()


def test_plan_wakes_the_most_pending_expert_not_the_oldest_request() -> None:
    views = [view("a", awake=True), view("old", pending=9, wait=20.0), view("big", pending=40, wait=1.0)]
    plan = plan_swap(views, 0.0, POLICY)
    assert plan is not None and (plan.incoming, plan.victims) == ("big", ("a",))


def test_plan_keeps_a_resident_while_the_candidate_queue_is_small() -> None:
    views = [view("a", awake=True), view("b", pending=POLICY.min_swap_batch - 1, wait=5.0)]
    assert plan_swap(views, 0.0, POLICY) is None


def test_plan_prefers_a_busy_resident_over_a_similar_queue() -> None:
    views = [view("a", awake=True, pending=10), view("b", pending=15)]
    assert plan_swap(views, 0.0, POLICY) is None, "15 < 2 x 10: swapping would not pay"
    views = [view("a", awake=True, pending=10), view("b", pending=25)]
    assert plan_swap(views, 0.0, POLICY).victims == ("a",)


def test_plan_protects_a_hot_resident_that_is_momentarily_idle() -> None:
    hot = view("hot", awake=True, rate=5.0)  # 5 req/s x 2 s swap = 10 requests of demand
    views = [hot, view("b", pending=12)]
    assert plan_swap(views, 0.0, POLICY) is None
    cold = view("cold", awake=True, rate=0.01)
    assert plan_swap([hot, cold, view("b", pending=12)], 0.0, POLICY).victims == ("cold",)


def test_plan_a_starved_queue_outranks_a_bigger_one_and_evicts_a_busy_resident() -> None:
    views = [view("a", awake=True, pending=100), view("big", pending=60, wait=1.0), view("rare", pending=1, wait=31.0)]
    plan = plan_swap(views, 0.0, POLICY)
    assert plan is not None and (plan.incoming, plan.victims) == ("rare", ("a",))
    assert plan.reason.startswith("starved")


def test_plan_never_evicts_a_starved_resident() -> None:
    views = [view("a", awake=True, pending=5, wait=40.0), view("rare", pending=1, wait=31.0)]
    assert plan_swap(views, 0.0, POLICY) is None


def test_plan_evicts_several_small_residents_for_a_large_expert() -> None:
    views = [view("s1", awake=True, gb=10), view("s2", awake=True, gb=10), view("s3", awake=True, gb=10, pending=30), view("big", pending=40, gb=20)]
    plan = plan_swap(views, 0.0, POLICY)
    assert plan is not None and set(plan.victims) == {"s1", "s2"}


def test_plan_serves_starved_queues_oldest_first() -> None:
    views = [view("a", awake=True), view("s1", pending=5, wait=31.0), view("s2", pending=1, wait=45.0)]
    assert plan_swap(views, 0.0, POLICY).incoming == "s2"
