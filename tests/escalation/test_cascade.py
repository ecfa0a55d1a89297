"""Cascade planning, answer merging, confidence signals and threshold edges."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from orchestrator.escalation import CascadePlan, LearnedConfidence, plan_tiers, tally
from orchestrator.escalation.cascade import answer_posterior
from orchestrator.escalation.options import PLAN_FIELDS, EscalationOptions
from orchestrator.escalation.replay import (
    PLANS,
    EscalationInputs,
    OperatingPoint,
    Trace,
    evaluate_escalation,
    operating_points,
    stop_at,
    trace_plan,
    truncate,
    tune_escalation,
    unmeasurable,
)
from orchestrator.escalation.signals import FEATURES, confidence_features, signal_value

# Experts: 0 cheap and weak, 1 mid, 2 dear and strong.
QUALITY = np.array([0.6, 0.7, 0.9])
COST = np.array([0.0, 0.4, 1.0])


def test_first_tier_is_the_cheapest_trusted_expert_then_the_strongest_then_a_vote():
    tiers = plan_tiers(QUALITY, COST, CascadePlan(probes=1, probe_cost_weight=1.0, max_tiers=3))
    assert tiers == [[0], [2], [1]]


def test_a_low_probe_cost_weight_trusts_quality_more_than_price():
    assert plan_tiers(QUALITY, COST, CascadePlan(probes=1, probe_cost_weight=0.1, max_tiers=2))[0] == [2]


def test_two_probes_and_a_ladder_through_the_mid_priced_expert():
    q = np.array([0.6, 0.55, 0.7, 0.9])
    c = np.array([0.0, 0.05, 0.4, 1.0])
    assert plan_tiers(q, c, CascadePlan(probes=2, probe_cost_weight=1.0, max_tiers=3, mid_cost_weight=0.5)) == [[0, 1], [2], [3]]


def test_disallowed_experts_are_never_planned():
    tiers = plan_tiers(QUALITY, COST, CascadePlan(max_tiers=3), allowed=np.array([True, False, True]))
    assert all(1 not in t for t in tiers)


def test_tally_votes_with_the_router_weights_and_missing_answers_agree_with_nobody():
    t = tally([0, 1, 2], ["B", "B", "A"], QUALITY)
    assert t.answer == "B" and t.winner == 1 and t.agree == pytest.approx(2 / 3)
    t = tally([0, 1], [None, None, None], QUALITY)
    assert t.answer is None and t.agree == 0.0 and t.winner == 1


def test_a_tie_goes_to_the_stronger_expert():
    assert tally([0, 2], ["A", "C", "B"], QUALITY).winner == 2


def test_signals_read_their_own_feature():
    f = confidence_features(agree=0.5, share=0.6, router_p=0.8, missing=False, length=99.0, logprob=np.log(0.9), n_called=2)[None, :]
    assert signal_value("agreement", f)[0] == 0.5
    assert signal_value("router", f)[0] == 0.8
    assert signal_value("logprob", f)[0] == pytest.approx(0.9)
    assert len(FEATURES) == f.shape[1]


def test_learned_confidence_is_calibrated_on_a_separable_signal():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 3))
    y = (X[:, 0] + 0.3 * rng.normal(size=2000) > 0).astype(float)
    p = LearnedConfidence().fit(X, y).predict_proba(X)
    assert ((p > 0.5) == (y > 0.5)).mean() > 0.9
    assert LearnedConfidence().fit(X[:5], np.ones(5)).predict_proba(X[:2]) == pytest.approx([1.0, 1.0], abs=1e-2)


@pytest.mark.parametrize(("threshold", "expected"), [(0.0, [0, 0]), (0.5, [0, 1]), (0.7, [1, 1]), (0.9, [2, 1]), (1.01, [2, 1])])
def test_threshold_edges_accept_at_equality_and_the_last_tier_always_answers(threshold, expected):
    conf = np.array([[0.5, 0.7, 0.2], [0.4, 0.8, 0.9]])
    # Row 1 has only two tiers: it can never stop at the third.
    assert stop_at(conf, threshold, np.array([3, 2])).tolist() == expected


def _inputs(n: int, seed: int) -> EscalationInputs:
    """Cheap expert right on 'easy' rows (and then sure of itself), strong expert right on 90%."""
    rng = np.random.default_rng(seed)
    easy = rng.random(n) < 0.6
    cheap_ok = np.where(easy, rng.random(n) < 0.95, rng.random(n) < 0.3)
    strong_ok = rng.random(n) < 0.9
    mid_ok = rng.random(n) < 0.7
    gold = ["A"] * n
    answers = [[g if c else "X", g if m else "Y", g if s else "Z"] for g, c, m, s in zip(gold, cheap_ok, mid_ok, strong_ok, strict=True)]
    scores = np.stack([cheap_ok, mid_ok, strong_ok], axis=1).astype(float)
    quality = np.tile(QUALITY, (n, 1))
    logprobs = np.log(np.where(scores > 0, 0.9, 0.4) + rng.normal(0, 0.03, size=scores.shape).clip(-0.05, 0.05))
    return EscalationInputs(scores=scores, cost=np.tile([0.01, 0.4, 1.0], (n, 1)), answers=answers, quality=quality,
                            cost_norm=np.tile(COST, (n, 1)), lengths=np.where(easy[:, None], 100.0, 400.0) * np.ones((n, 3)),
                            logprobs=logprobs, tasks=["t"] * n)


def test_replay_charges_every_call_and_escalates_only_below_the_threshold():
    d = _inputs(200, 0)
    tr: Trace = trace_plan(d, CascadePlan(probes=1, probe_cost_weight=1.0, max_tiers=2), top=2)
    assert tr.cost_add[:, 0] == pytest.approx(0.01) and tr.cost_add[:, 1] == pytest.approx(1.0)
    assert tr.top_add[:, 1].all() and not tr.top_add[:, 0].any()
    logprob_conf = np.stack([signal_value("logprob", tr.features[:, t]) for t in range(2)], axis=1)
    stop = stop_at(logprob_conf, 0.7, tr.n_tiers)
    # The logprob signal is high exactly where the cheap expert was right.
    assert ((stop == 0) == (d.scores[:, 0] > 0)).all()


def test_a_tuned_cascade_beats_the_strong_expert_at_a_fraction_of_its_cost():
    out = evaluate_escalation(_inputs(600, 1), _inputs(400, 2), ["cheap", "mid", "strong"], router_pick=np.full(400, 2),
                              signals=("agreement", "router", "logprob", "learned"))
    pol = out["policies"]
    assert out["top_model"] == "strong"
    for signal in ("logprob", "learned"):
        match = pol[f"cascade_{signal}_match"]
        assert match["accuracy"] >= pol["best_single"]["accuracy"] - 0.03
        assert match["mean_cost"] <= 0.6 * pol["best_single"]["mean_cost"]
        assert 0 < match["escalation_rate"] < 1
    assert pol["cascade_router_match"]["escalation_rate"] in (0.0, 1.0)  # a constant signal cannot separate rows
    assert set(out["curves"]) >= {"logprob", "learned"}
    assert pol["oracle"]["accuracy"] >= max(p["accuracy"] for p in pol.values()) - 1e-12


def test_one_voter_s_posterior_is_its_reliability_and_trusted_agreement_counts_more():
    assert answer_posterior([2], ["A", "B", "C"], QUALITY, options=10) == {"C": pytest.approx(0.9)}
    trusted = answer_posterior([1, 2], ["B", "A", "A"], QUALITY)["A"]
    doubtful = answer_posterior([0, 1], ["A", "A", "B"], QUALITY)["A"]
    assert doubtful < trusted and 0.9 < trusted < 1.0
    assert answer_posterior([0, 1], [None, None, "A"], QUALITY) == {}
    # Disagreeing voters split the mass; the unseen answers keep some of it.
    split = answer_posterior([0, 1, 2], ["A", "B", "C"], QUALITY)
    assert split["C"] > split["B"] > split["A"] and sum(split.values()) < 1.0


def test_merge_strongest_lets_the_best_rated_expert_answer_and_the_others_only_agree():
    assert tally([0, 1, 2], ["B", "B", "A"], QUALITY).answer == "B"  # the vote: two cheap experts outvote the strong one
    t = tally([0, 1, 2], ["B", "B", "A"], QUALITY, "strongest")
    assert t.answer == "A" and t.winner == 2 and t.agree == pytest.approx(1 / 3)
    assert t.posterior == pytest.approx(answer_posterior([0, 1, 2], ["B", "B", "A"], QUALITY)["A"])
    # The strongest gave no extractable answer: the best-rated expert that did answers.
    assert tally([0, 1, 2], ["B", "C", None], QUALITY, "strongest").winner == 1
    with pytest.raises(ValueError, match="invalid cascade plan"):
        CascadePlan(merge="loudest")


def test_the_posterior_signal_reads_its_feature():
    f = confidence_features(agree=1.0, share=1.0, router_p=0.8, missing=False, length=None, logprob=None, n_called=2, posterior=0.97)[None, :]
    assert signal_value("posterior", f)[0] == pytest.approx(0.97)


def _herd(n: int, seed: int, herd_wrong: float) -> EscalationInputs:
    """Two cheap experts share their mistakes (a herd), the strong one is right on 90%: the
    strong expert should answer alone once called, not be outvoted by the herd."""
    rng = np.random.default_rng(seed)
    strong_ok = rng.random(n) < 0.9
    herd_ok = rng.random(n) > herd_wrong
    answers = [["A" if h else "W", "A" if h else "W", "A" if s else "Z"] for h, s in zip(herd_ok, strong_ok, strict=True)]
    scores = np.stack([herd_ok, herd_ok, strong_ok], axis=1).astype(float)
    q = np.tile([0.55, 0.55, 0.9], (n, 1))
    return EscalationInputs(scores=scores, cost=np.tile([0.01, 0.01, 1.0], (n, 1)), answers=answers, quality=q,
                            cost_norm=np.tile([0.0, 0.0, 1.0], (n, 1)), tasks=["t"] * n)


def test_plans_and_merges_are_chosen_on_train_folds_and_test_only_reports_them():
    plans = tuple(CascadePlan(probes=2, probe_cost_weight=1.0, max_tiers=2, merge=m) for m in ("vote", "strongest"))
    # On train the herd is wrong half the time: only "strongest" lets the strong expert's answer through.
    train = _herd(500, 0, herd_wrong=0.5)
    out = evaluate_escalation(train, _herd(300, 1, herd_wrong=0.5), ["h1", "h2", "strong"], router_pick=np.full(300, 2),
                              signals=("router",), plans=plans)
    chosen = out["policies"]["cascade_router_match"]
    assert chosen["plan"]["merge"] == "strongest" and chosen["train_accuracy"] >= 0.85
    # A test split where the herd is never wrong changes the score, not the choice.
    again = evaluate_escalation(train, _herd(300, 1, herd_wrong=0.0), ["h1", "h2", "strong"], router_pick=np.full(300, 2),
                                signals=("router",), plans=plans)["policies"]["cascade_router_match"]
    assert (again["plan"], again["threshold"], again["train_accuracy"]) == (chosen["plan"], chosen["threshold"], chosen["train_accuracy"])
    assert 0.5 <= out["first_tier_auroc"]["router"] <= 1.0


def test_the_default_plans_start_tier_one_anywhere_on_the_cost_dial():
    # Near the router's own choice (cost weight 0.05) tier 1 is the strong expert, and a cascade
    # spends its budget on a second opinion; at the cheap end it is the cheap expert.
    first = {p.probe_cost_weight: plan_tiers(QUALITY, COST, p)[0] for p in PLANS if p.probes == 1}
    assert first[min(first)] == [2] and first[max(first)] == [0]


def test_the_replay_reports_progress_once_per_plan():
    ticks: list[int] = []
    evaluate_escalation(_herd(100, 0, herd_wrong=0.3), _herd(50, 1, herd_wrong=0.3), ["h1", "h2", "strong"],
                        router_pick=np.full(50, 2), signals=("router",), plans=PLANS[:3], on_plan=lambda: ticks.append(1))
    assert len(ticks) == 3


@pytest.mark.parametrize(("runner_up", "beat"), [(0.7390, "cheap"), (0.7300, "dear")])
def test_beat_takes_the_cheaper_of_two_settings_cv_cannot_tell_apart(runner_up, beat):
    plan = CascadePlan()
    points = [OperatingPoint(0.7400, 0.008, 0.53, plan, 0.9), OperatingPoint(runner_up, 0.008, 0.40, plan, 0.5),
              OperatingPoint(0.7600, 0.008, 0.90, plan, 1.0)]  # dearer than best single: not a "beat" candidate
    chosen = operating_points(points, single_acc=0.735, single_cost=0.55)
    # 0.001 apart is inside min(0.002, se/4): free; 0.010 apart is not.
    assert chosen["beat"].cost == (0.40 if beat == "cheap" else 0.53)
    assert chosen["match"].cost == (0.40 if runner_up >= 0.735 else 0.53)


def test_a_two_tier_trace_is_the_three_tier_trace_cut_short():
    rng = np.random.default_rng(3)
    n, m = 60, 5
    d = EscalationInputs(scores=(rng.random((n, m)) < 0.6).astype(float), cost=rng.random((n, m)),
                         answers=[[str(a) for a in rng.integers(0, 3, m)] for _ in range(n)], quality=rng.random((n, m)),
                         cost_norm=rng.random((n, m)), lengths=rng.random((n, m)) * 100, tasks=["t"] * n)
    for probes in (1, 2):
        three = trace_plan(d, CascadePlan(probes=probes, max_tiers=3, merge="strongest"), top=0)
        two = trace_plan(d, CascadePlan(probes=probes, max_tiers=2, merge="strongest"), top=0)
        cut = truncate(three, 2)
        for field_ in ("score", "cost_add", "calls_add", "top_add", "features", "n_tiers"):
            np.testing.assert_array_equal(getattr(cut, field_), getattr(two, field_), err_msg=field_)


def test_tuning_on_train_picks_what_the_offline_table_reports_for_each_live_signal():

    train, test = _herd(300, 0, herd_wrong=0.4), _herd(100, 1, herd_wrong=0.4)
    plans = tuple(p for p in PLANS if p.probe_cost_weight >= 0.3)  # 1-2 probes: agreement included
    tuned = tune_escalation(train, plans=plans)
    table = evaluate_escalation(train, test, ["h1", "h2", "strong"], router_pick=np.full(100, 2),
                                signals=("agreement", "router", "posterior", "learned"), plans=plans)["policies"]
    assert set(tuned) == {"agreement", "router", "posterior", "learned"}  # logprob: this data records none
    for signal, goals in tuned.items():
        for goal, setting in goals.items():
            row = table[f"cascade_{signal}_{goal}"]
            assert setting["threshold"] == row["threshold"] and setting["train_accuracy"] == row["train_accuracy"]
            assert {k: setting[k] for k in ("probes", "probe_cost_weight", "max_tiers", "merge")} == {
                k: row["plan"][k] for k in ("probes", "probe_cost_weight", "max_tiers", "merge")}
            if signal != "learned":  # learned runs only through its dial (below)
                EscalationOptions(signal=signal, **{k: setting[k] for k in PLAN_FIELDS})  # a valid request option
            assert ("model" in setting) == (signal == "learned")


def test_a_learned_dial_carries_the_per_tier_models_eval_scores_test_with():
    from orchestrator.escalation.replay import _learned_models
    from orchestrator.escalation.signals import LEARNERS

    train = _herd(300, 0, herd_wrong=0.4)
    plans = tuple(p for p in PLANS if p.probe_cost_weight >= 0.3)
    for goal, setting in tune_escalation(train, plans=plans, signals=("learned",))["learned"].items():
        plan = CascadePlan(**{k: setting[k] for k in ("probes", "probe_cost_weight", "max_tiers", "merge")})
        tr = trace_plan(train, plan, top=2)
        deployed = setting["model"]
        assert setting["learner"] == deployed.learner in LEARNERS
        assert len(deployed.tiers) == plan.max_tiers and deployed.logprobs is False
        for t, fitted in enumerate(_learned_models(tr, deployed.learner)):  # the same fit on every training row
            row = tr.features[7, t]
            assert deployed.confidence(t, row) == pytest.approx(float(fitted.predict_proba(row[None])[0]), abs=1e-12), goal


@pytest.mark.parametrize("learner", ["logistic", "boosted"])
def test_a_two_tier_plan_reuses_its_three_tier_siblings_learned_first_tier_exactly(learner):
    from orchestrator.escalation.replay import _folds, _learned_confidences, _learned_oof

    d = _herd(240, 4, herd_wrong=0.3)
    three, two = CascadePlan(probes=2, max_tiers=3, merge="vote"), CascadePlan(probes=2, max_tiers=2, merge="vote")
    folds = _folds(len(d), 5, 0)
    shared = _learned_confidences({three: (trace_plan(d, three, top=2),), two: (trace_plan(d, two, top=2),)}, folds, learner)
    alone = _learned_oof(trace_plan(d, two, top=2), folds, learner)  # the two-tier plan fitted on its own trace
    np.testing.assert_array_equal(shared[two][0], alone)
    assert (shared[two][0][:, -1] == 1.0).all() and (shared[three][0][:, -1] == 1.0).all(), "the last tier always answers"


def test_data_without_recorded_answers_measures_and_tunes_only_the_signals_that_need_none():
    def unanswered(d: EscalationInputs) -> EscalationInputs:
        return dataclasses.replace(d, answers=[[None] * len(row) for row in d.answers])

    plans = PLANS[:2] + tuple(p for p in PLANS if p.probes == 2)[:2]
    train, test = _herd(200, 0, herd_wrong=0.3), _herd(100, 1, herd_wrong=0.3)
    answered = evaluate_escalation(train, test, ["h1", "h2", "strong"], router_pick=np.full(100, 2), plans=plans)
    assert {"vote_top3", "agree_else_strongest"} <= set(answered["policies"])
    assert {"agreement", "posterior"} <= set(answered["curves"]) and set(tune_escalation(train, plans=plans)) >= {"agreement", "posterior"}
    # Without answers no two can agree: the signals and baselines that compare them are left out, and said to be.
    out = evaluate_escalation(unanswered(train), unanswered(test), ["h1", "h2", "strong"], router_pick=np.full(100, 2), plans=plans)
    assert not {"vote_top3", "agree_else_strongest"} & set(out["policies"])
    assert not any(name.startswith(("cascade_agreement", "cascade_posterior")) for name in out["policies"])
    assert {"router", "learned"} <= set(out["curves"])
    assert any("no extracted answers" in n for n in out["notes"])
    assert set(tune_escalation(unanswered(train), plans=plans)) == {"router", "learned"}
    assert unmeasurable(unanswered(train)) == {"agreement": "no extracted answers are recorded", "posterior": "no extracted answers are recorded",
                                               "logprob": "no token log-probabilities are recorded"}


def test_the_per_query_oracle_takes_the_best_graded_score_not_only_a_perfect_one():
    d = _herd(50, 0, herd_wrong=0.3)
    graded = dataclasses.replace(d, scores=np.tile([0.2, 0.3, 0.6], (50, 1)))
    oracle = evaluate_escalation(graded, graded, ["h1", "h2", "strong"], router_pick=np.full(50, 0), signals=(), plans=PLANS[:1])["policies"]["oracle"]
    assert oracle["accuracy"] == pytest.approx(0.6) and oracle["mean_cost"] == pytest.approx(1.0)
