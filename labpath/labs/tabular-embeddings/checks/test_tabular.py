"""Checks for the pieces: category codes, embedding sizes, the model's tables and inputs, standardisation.

Sizes are distinct per dimension (3 columns with 11, 7 and 5 codes, widths 4, 3, 2, 3
numeric columns, out_sz 2, batch 17), the model is run in float64 and evaluation mode.
"""

import random

import torch
from tabular_ref import (
    as_codes,
    emb_size_2018,
    emb_size_fastai,
    first_linear,
    need,
    predict,
    reserved_slot,
    synthetic,
)

from labpath.checks import kit

VALUES = ["oslo", "bern", "lima", "kiev", "rome", "bern", None, "oslo", "baku", "lima", "rome"]
SEEN = sorted({v for v in VALUES if v is not None})  # baku bern kiev lima oslo rome


def _fitted(tab, values):
    (CategoryMap,) = need(tab, "CategoryMap")
    cmap = CategoryMap()
    out = cmap.fit(list(values))
    if out is not cmap:
        kit.fail("CategoryMap().fit(values) returned something else than the map itself",
                 yours=type(out).__name__, expected="self", hint="end fit with `return self`")
    return cmap


def _expected_codes(slot, values, seen):
    """Sorted training values take the indices other than the reserved slot, in order."""
    free = [i for i in range(len(seen) + 1) if i != slot]
    code = dict(zip(seen, free))
    return [code.get(v, slot) for v in values]


def test_category_map_codes_sorted_values_and_reserves_unknown(tab):
    """CategoryMap.fit(11 city names with a None) -> classes ['#na#', 6 sorted], len 7; unseen and None -> 0."""
    cmap = _fitted(tab, VALUES)
    slot = reserved_slot(cmap)
    probe = ["rome", "baku", "paris", None, "oslo", "zurich", "bern"]
    yours = as_codes(cmap.transform(probe), "transform(values)").tolist()
    if slot is None:
        first = as_codes(cmap.transform([SEEN[0]]), "transform").tolist()
        kit.fail("CategoryMap.classes has no '#na#' slot for unknown values",
                 yours=list(getattr(cmap, "classes", []))[:8], expected=["#na#"] + SEEN,
                 diagnosis=f"unseen 'paris' mapped to {SEEN[0]}'s code {first[0]}: reserve index 0 for unknown"
                 if yours[2] == first[0] else None,
                 hint="classes = ['#na#'] + sorted(training values); code 0 is every value not seen in fit")
    if len(cmap) != len(SEEN) + 1:
        kit.fail("len(CategoryMap) after fitting 6 distinct values and a None", yours=len(cmap),
                 expected=len(SEEN) + 1, hint="len counts the unknown slot: C + 1 (None is not a class)")
    classes = list(cmap.classes)
    if [c for i, c in enumerate(classes) if i != slot] != SEEN:
        kit.fail("CategoryMap.classes without '#na#'", yours=classes, expected=["#na#"] + SEEN,
                 hint="sorted(set(values)) without None, so the codes do not depend on the row order")
    expected = _expected_codes(slot, probe, SEEN)
    if yours != expected:
        kit.fail(f"transform({probe})", yours=yours, expected=expected,
                 hint="known values get their code, unseen values and None the '#na#' index")
    ints = _fitted(tab, [1, 0, 1, 1])
    got = as_codes(ints.transform([0, 1, 2]), "transform of an integer column").tolist()
    want = _expected_codes(reserved_slot(ints), [0, 1, 2], [0, 1])
    if got != want:
        kit.fail("an integer column (promo): fit([1, 0, 1, 1]).transform([0, 1, 2])", yours=got, expected=want,
                 hint="integer values are categories like strings: 0 is a value, not 'unknown'")


def test_category_map_does_not_depend_on_the_row_order(tab):
    """Fitting the same values shuffled gives the same classes and codes."""
    base = _fitted(tab, VALUES)
    rows = VALUES[:]
    random.Random(kit.seed()).shuffle(rows)
    rows.reverse()
    other = _fitted(tab, rows)
    a = as_codes(base.transform(SEEN), "transform").tolist()
    b = as_codes(other.transform(SEEN), "transform").tolist()
    if a != b:
        kit.fail(f"codes of {SEEN} after fitting the same rows in another order", yours=b, expected=a,
                 diagnosis="codes follow the order of first appearance" if len(set(b)) == len(b) else None,
                 hint="number the sorted unique values, not the values in the order they come")


def test_category_map_gives_valid_rows_the_training_codes(tab):
    """transform(valid values) reuses the codes learnt in fit, whatever subset the validation rows hold."""
    cmap = _fitted(tab, VALUES)
    train_codes = as_codes(cmap.transform(SEEN), "transform").tolist()
    valid = ["rome", "lima", "rome"]  # a validation split where only two of the cities occur
    got = as_codes(cmap.transform(valid), "transform").tolist()
    want = [train_codes[SEEN.index(v)] for v in valid]
    if got != want:
        kit.fail(f"transform({valid}) after fit on the training values", yours=got, expected=want,
                 diagnosis="the same value got different codes in train and valid: transform re-coded its input"
                 if got == [2, 1, 2] else None,
                 hint="fit once on the training rows, then look every value up in that mapping")


N_CATS = [2, 3, 4, 8, 13, 24, 32, 100, 301, 1000, 1116, 10000, 100000]


def _sizes_check(tab, rule, ref, extra_diag):
    (emb_size,) = need(tab, "emb_size")
    ns = N_CATS + list(range(5, 60))
    yours = [emb_size(n, rule=rule) for n in ns]
    expected = [ref(n) for n in ns]
    if yours == expected:
        return
    bad = next(i for i, (a, b) in enumerate(zip(yours, expected)) if a != b)

    def diagnose(y):
        if y == [ref(n + 1) for n in ns]:
            return "your sizes are the rule at n_cat + 1: n_cat already counts the unknown slot"
        if y == [ref(n - 1) for n in ns]:
            return "your sizes are the rule at n_cat - 1: n_cat counts the unknown slot, keep it"
        return extra_diag(y, ns)

    kit.fail(f"emb_size({ns[bad]}, rule={rule!r})", yours=yours[bad], expected=expected[bad],
             diagnosis=diagnose(yours),
             hint="fastai: min(600, round(1.6 * n_cat ** 0.56)); fastai2018: min(50, (n_cat + 1) // 2)")


def test_emb_size_follows_fastais_rule(tab):
    """emb_size(n) = min(600, round(1.6 n^0.56)): 8 -> 5, 13 -> 7, 24 -> 9, 100 -> 21, 100000 -> 600."""

    def extra(y, ns):
        import math

        if y == [min(600, int(1.6 * n ** 0.56)) for n in ns]:
            return "int() truncates (n=13 gives 6): use round()"
        if y == [round(1.6 * n ** 0.56) for n in ns]:
            return "no cap: fastai caps the width at 600"
        if y == [min(600, math.ceil(1.6 * n ** 0.56)) for n in ns]:
            return "math.ceil rounds up (n=8 gives 6): use round()"
        return None

    _sizes_check(tab, "fastai", emb_size_fastai, extra)
    (emb_size,) = need(tab, "emb_size")
    if emb_size(13) != 7:
        kit.fail("emb_size(13) with the default rule", yours=emb_size(13), expected=7,
                 hint="def emb_size(n_cat, rule='fastai')")


def test_emb_size_follows_the_2018_rule(tab):
    """emb_size(n, rule='fastai2018') = min(50, (n + 1) // 2): 8 -> 4, 13 -> 7, 32 -> 16, 1116 -> 50."""

    def extra(y, ns):
        if y == [(n + 1) // 2 for n in ns]:
            return "no cap: the 2018 rule caps the width at 50"
        return None

    _sizes_check(tab, "fastai2018", emb_size_2018, extra)


EMB_SZS = [(11, 4), (7, 3), (5, 2)]
N_CONT, OUT, LAYERS, B = 3, 2, [13, 6], 17


def _model(tab, **kw):
    (TabularModel,) = need(tab, "TabularModel")
    torch.manual_seed(kit.seed())
    return TabularModel(EMB_SZS, N_CONT, OUT, LAYERS, **kw).double().eval()


def _batch(offset=0):
    g = torch.Generator().manual_seed(kit.seed() + offset)
    x_cat = torch.stack([torch.randint(0, n, (B,), generator=g) for n, _ in EMB_SZS], 1)  # (B, 3)
    x_cont = torch.randn(B, N_CONT, generator=g, dtype=torch.float64)
    return x_cat, x_cont


def _tables(model):
    embeds = getattr(model, "embeds", None)
    if not isinstance(embeds, torch.nn.ModuleList):
        kit.fail("TabularModel.embeds", yours=type(embeds).__name__, expected="nn.ModuleList of nn.Embedding",
                 hint="self.embeds = nn.ModuleList([nn.Embedding(n, d) for n, d in emb_szs])")
    return list(embeds)


def test_tabular_model_has_one_embedding_table_per_column(tab):
    """TabularModel([(11, 4), (7, 3), (5, 2)], 3, 2, [13, 6]).embeds: 3 nn.Embedding(11 or 12, 4), (7 or 8, 3), (5 or 6, 2)."""
    tables = _tables(_model(tab))
    if len(tables) != len(EMB_SZS) or not all(isinstance(e, torch.nn.Embedding) for e in tables):
        kit.fail("TabularModel.embeds for 3 categorical columns", yours=[type(e).__name__ for e in tables],
                 expected=["Embedding"] * 3, hint="one nn.Embedding per column, in the columns' order")
    for i, a in enumerate(tables):
        for j, b in enumerate(tables[:i]):
            if a is b or a.weight.data_ptr() == b.weight.data_ptr():
                kit.fail(f"embedding tables of columns {j} and {i}", yours="the same parameters",
                         expected="one table per column", diagnosis="two columns share parameters",
                         hint="build a new nn.Embedding for each (n, d) of emb_szs")
    yours = [(e.num_embeddings, e.embedding_dim) for e in tables]
    ok = all(d == dd and nn in (n, n + 1) for (nn, dd), (n, d) in zip(yours, EMB_SZS))
    if not ok:
        kit.fail("(num_embeddings, embedding_dim) of each table", yours=yours, expected=EMB_SZS,
                 hint="nn.Embedding(n, d) for each (n, d) in emb_szs (n + 1 rows is accepted when your "
                 "n counts the real categories only)")


def test_tabular_model_concatenates_embeddings_then_numeric_columns(tab):
    """The first Linear sees 4 + 3 + 2 embedding values and 3 numeric columns: in_features 12."""
    model = _model(tab)
    lin = first_linear(model, *_batch())
    expected = sum(d for _, d in EMB_SZS) + N_CONT
    yours = None if lin is None else lin.in_features
    if yours != expected:
        diag = None
        if yours == max(d for _, d in EMB_SZS) + N_CONT:
            diag = f"input width of the first Linear is {yours - N_CONT} + {N_CONT}: the embeddings are summed, " \
                   "not concatenated"
        elif yours == len(EMB_SZS) + N_CONT:
            diag = "the first Linear takes one value per categorical column: codes fed as floats, not embedded"
        elif yours == sum(d for _, d in EMB_SZS):
            diag = "the numeric columns never reach the MLP"
        kit.fail("in_features of the first nn.Linear the forward pass calls", yours=yours,
                 expected=f"{expected} = sum of d_i (9) + n_cont (3)", diagnosis=diag,
                 hint="torch.cat([emb_i(x_cat[:, i]) for each column] + [x_cont], dim=1)")


def test_tabular_model_forward_gives_batch_by_out_sz(tab):
    """forward(x_cat (17, 3) long, x_cont (17, 3)) -> (17, 2), finite."""
    x_cat, x_cont = _batch()
    out = _model(tab)(x_cat, x_cont)
    if tuple(out.shape) != (B, OUT):
        kit.fail("TabularModel(...)(x_cat, x_cont) shape", yours=tuple(out.shape), expected=(B, OUT),
                 hint="the last Linear maps to out_sz")
    if not torch.isfinite(out).all():
        kit.fail("forward gave NaN or inf", yours=out[:2].tolist())


def test_tabular_model_drops_out_in_train_mode_only(tab):
    """embed_p=0.5 or ps=0.5: two train-mode passes differ; in eval mode, or with both 0, they agree."""
    x_cat, x_cont = _batch(3)

    def twice(train, **kw):
        model = _model(tab, **kw).train(train)
        with torch.no_grad():
            return model(x_cat, x_cont), model(x_cat, x_cont)

    for kw, differ in (({"embed_p": 0.5}, True), ({"ps": 0.5}, True), ({"ps": [0.5, 0.5]}, True), ({}, False)):
        a, b = twice(True, **kw)
        if bool((a - b).abs().max() > 1e-9) != differ:
            kit.fail(f"two forward passes in train mode with {kw or 'ps=0, embed_p=0'}",
                     yours="different" if not differ else "identical",
                     expected="different (dropout)" if differ else "identical",
                     hint="nn.Dropout(embed_p) on the concatenated embeddings, nn.Dropout(p) after each hidden layer")
    a, b = twice(False, embed_p=0.5, ps=0.5)
    kit.close(a, b, "two forward passes in eval mode with embed_p=0.5, ps=0.5", rtol=0, atol=0, dims="B out",
              hint="dropout only in train mode: nn.Dropout does this for you")


def test_tabular_model_y_range_and_use_bn(tab):
    """y_range=(-1.5, 2.5) gives sigmoid(raw) * 4 - 1.5 of the same model without it (fastai's sigmoid_range); use_bn=False builds no BatchNorm layer."""
    x_cat, x_cont = _batch(4)
    squashed, raw = _model(tab, y_range=(-1.5, 2.5)), _model(tab)
    with torch.no_grad():
        for m in (squashed, raw):
            for p in m.parameters():
                p.mul_(3.0)  # raw outputs well outside the range
        out, plain_out = predict(squashed, x_cat, x_cont), predict(raw, x_cat, x_cont)
    kit.close(out, torch.sigmoid(plain_out) * 4.0 - 1.5, "outputs with y_range=(-1.5, 2.5)", rtol=1e-10,
              atol=1e-12, dims="B", hint="torch.sigmoid(out) * (hi - lo) + lo after the last Linear")
    plain = _model(tab, use_bn=False)
    norms = [type(m).__name__ for m in plain.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if norms:
        kit.fail("BatchNorm layers with use_bn=False", yours=norms, expected="none")
    if not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in _model(tab).modules()):
        kit.fail("BatchNorm layers with use_bn=True (the default)", yours="none", expected="BatchNorm1d layers",
                 hint="fastai's default: BatchNorm1d on the numeric columns and after each hidden layer")


class _OneHotTable(torch.nn.Module):
    """An nn.Embedding stand-in computing one_hot(codes) @ W, with the same weight."""

    def __init__(self, emb):
        super().__init__()
        self.weight = emb.weight
        self.num_embeddings, self.embedding_dim = emb.num_embeddings, emb.embedding_dim
        self.padding_idx = getattr(emb, "padding_idx", None)

    def forward(self, codes):
        hot = torch.nn.functional.one_hot(codes, self.num_embeddings).to(self.weight.dtype)
        return hot @ self.weight


def test_a_lookup_is_one_hot_times_the_table(tab):
    """Each table replaced by one_hot(codes) @ W (the same W) gives the same predictions, to 1e-12."""
    model = _model(tab)
    x_cat, x_cont = _batch()
    before = predict(model, x_cat, x_cont)
    tables = _tables(model)
    for i, e in enumerate(tables):
        model.embeds[i] = _OneHotTable(e)
    after = predict(model, x_cat, x_cont)
    kit.close(after, before, "predictions with each nn.Embedding replaced by one_hot(codes) @ weight",
              rtol=1e-12, atol=1e-12, dims="B",
              hint="look each column up in its own table, self.embeds[i](x_cat[:, i]); an embedding is a "
              "Linear layer on the one-hot code")


def test_prediction_depends_on_a_category_only_through_its_row(tab):
    """Renaming the codes (rows of every table permuted to match) leaves the predictions unchanged, to 1e-12."""
    model = _model(tab)
    x_cat, x_cont = _batch(1)
    before = predict(model, x_cat, x_cont)
    g = torch.Generator().manual_seed(kit.seed() + 2)
    new_cat = x_cat.clone()
    with torch.no_grad():
        for i, e in enumerate(_tables(model)):
            perm = torch.randperm(e.num_embeddings, generator=g)  # old code c -> new code perm[c]
            w = e.weight.detach().clone()
            e.weight[perm] = w
            new_cat[:, i] = perm[x_cat[:, i]]
    after = predict(model, new_cat, x_cont)
    kit.close(after, before, "predictions after renaming the codes of every column (tables permuted to match)",
              rtol=1e-12, atol=1e-12, dims="B",
              diagnose=lambda y: None if torch.allclose(torch.as_tensor(y), before, atol=1e-6) else
              "the code's value itself reaches the MLP (an ordinal leak): codes are names, only their rows "
              "should matter",
              hint="the integer code must only select a row of its table")
    # each column its own table: changing row r of table i moves exactly the rows whose column i is r
    with torch.no_grad():
        for i, e in enumerate(_tables(model)):
            r = int(new_cat[0, i])
            base = predict(model, new_cat, x_cont)
            e.weight[r] += 1.0
            moved = (predict(model, new_cat, x_cont) - base).abs() > 1e-9
            e.weight[r] -= 1.0
            expected = new_cat[:, i] == r
            if not torch.equal(moved, expected):
                kit.fail(f"rows whose prediction changed when row {r} of table {i} changed",
                         yours=moved.nonzero().reshape(-1).tolist(),
                         expected=expected.nonzero().reshape(-1).tolist(),
                         hint="column i is looked up in table i: self.embeds[i](x_cat[:, i])")


def test_unseen_store_uses_the_unknown_row_and_gives_a_finite_prediction(tab):
    """40 stores, 5 only in validation: their code is the '#na#' slot, their prediction uses that row and is finite."""
    (CategoryMap,) = need(tab, "CategoryMap")
    (TabularModel,) = need(tab, "TabularModel")
    data = synthetic(kit.seed(), n_stores=40, n_train=400, n_valid=150, unseen=5)
    tr, va = data["train"], data["valid"]
    cmap = CategoryMap().fit(tr["store"])
    slot = reserved_slot(cmap)
    codes = as_codes(cmap.transform(va["store"]), "transform of the validation stores")
    new = torch.tensor([s >= 35 for s in va["store_index"]])
    if slot is None or not bool((codes[new] == slot).all()) or bool((codes[~new] == slot).any()):
        real = codes[new][0].item()
        kit.fail("codes of the 5 stores seen only in validation", yours=sorted(set(codes[new].tolist())),
                 expected=[slot if slot is not None else 0],
                 diagnosis=f"unseen store mapped to a real store's code {real}; reserve index 0"
                 if slot is None or real != slot else None,
                 hint="an unseen value gets the unknown code (0), never a real category's")
    torch.manual_seed(kit.seed())
    model = TabularModel([(len(cmap), 6)], 1, 1, [8]).double().eval()
    x_cat = codes[:, None]
    x_cont = torch.tensor(va["x"], dtype=torch.float64)[:, None]
    try:
        pred = predict(model, x_cat, x_cont)
    except IndexError as exc:
        kit.fail(f"predicting validation rows with unseen stores raised IndexError: {exc}",
                 hint="the table needs a row for the unknown code: nn.Embedding(len(cmap), d)")
    if not torch.isfinite(pred).all():
        kit.fail("predictions for unseen stores", yours="NaN or inf", expected="finite numbers")
    with torch.no_grad():
        model.embeds[0].weight[slot] += 1.0
    moved = (predict(model, x_cat, x_cont) - pred).abs() > 1e-9
    if not torch.equal(moved, new):
        kit.fail(f"rows whose prediction changed when the unknown row {slot} changed",
                 yours=int(moved.sum()), expected=f"{int(new.sum())} (the rows of unseen stores)",
                 hint="unseen stores must be looked up in the unknown row of the store table")


def test_standardize_uses_training_statistics_only(tab):
    """standardize(train (50, 3), other (23, 3)): both scaled with train's mean and std (ddof 0 or 1), to 1e-12."""
    (standardize,) = need(tab, "standardize")
    g = torch.Generator().manual_seed(kit.seed())
    loc = torch.tensor([3.0, -2.0, 10.0], dtype=torch.float64)
    scale = torch.tensor([2.0, 0.5, 7.0], dtype=torch.float64)
    train = loc + scale * torch.randn(50, 3, generator=g, dtype=torch.float64)
    other = loc + 1.5 + scale * 1.7 * torch.randn(23, 3, generator=g, dtype=torch.float64)
    out = standardize(train.clone(), other.clone())
    if not (isinstance(out, tuple) and len(out) == 2):
        kit.fail("standardize(train, other) must return (train_scaled, other_scaled)", yours=type(out).__name__)
    a, b = (torch.as_tensor(t, dtype=torch.float64) for t in out)
    mean = train.mean(0)
    stds = {1: train.std(0, unbiased=True), 0: train.std(0, unbiased=False)}
    ddof = min(stds, key=lambda k: float(((train - mean) / stds[k] - a).abs().max()) if a.shape == train.shape else 0)
    std = stds[ddof]

    def diagnose(y):
        y = torch.as_tensor(y, dtype=torch.float64)
        if torch.allclose(y, other, atol=1e-9):
            return "other returned unchanged: it was never standardised"
        for k in (0, 1):
            if torch.allclose(y, (other - other.mean(0)) / other.std(0, unbiased=bool(k)), atol=1e-9):
                return "other has mean 0: it was standardised with its own (validation) statistics"
        both = torch.cat([train, other])
        for k in (0, 1):
            if torch.allclose(y, (other - both.mean(0)) / both.std(0, unbiased=bool(k)), atol=1e-9):
                return "statistics of train and other together: the validation rows leaked into them"
        return None

    kit.close(a, (train - mean) / std, "standardize: the training columns", rtol=1e-12, atol=1e-12,
              dims="N k", diagnose=lambda y: "train returned unchanged" if torch.allclose(
                  torch.as_tensor(y, dtype=torch.float64), train) else None,
              hint="(train - train.mean(0)) / train.std(0)")
    kit.close(b, (other - mean) / std, "standardize: the other (validation) columns, with train's mean and std",
              rtol=1e-12, atol=1e-12, dims="N k", diagnose=diagnose,
              hint="(other - train.mean(0)) / train.std(0): the validation rows never set the statistics")


def test_one_hot_mlp_takes_every_column_one_hot(tab):
    """OneHotMLP([11, 7, 5], 3, 2, [13, 6]): the first Linear has 11 + 7 + 5 + 3 inputs (or one more per column), output (17, 2)."""
    (OneHotMLP,) = need(tab, "OneHotMLP")
    torch.manual_seed(kit.seed())
    cards = [n for n, _ in EMB_SZS]
    model = OneHotMLP(cards, N_CONT, OUT, LAYERS).double().eval()
    x_cat, x_cont = _batch(5)
    lin = first_linear(model, x_cat, x_cont)
    ok = (sum(cards) + N_CONT, sum(cards) + len(cards) + N_CONT)
    if lin is None or lin.in_features not in ok:
        kit.fail("in_features of the OneHotMLP's first nn.Linear", yours=None if lin is None else lin.in_features,
                 expected=f"{ok[0]} = 11 + 7 + 5 one-hot columns + 3 numeric (or {ok[1]})",
                 diagnosis="codes fed as floats, not one-hot" if lin is not None and lin.in_features == len(cards) + N_CONT
                 else None,
                 hint="torch.cat([F.one_hot(x_cat[:, i], n) for each column] + [x_cont], 1)")
    out = predict(model, x_cat, x_cont)
    full = model(x_cat, x_cont)
    if tuple(full.shape) != (B, OUT):
        kit.fail("OneHotMLP(...)(x_cat (17, 3), x_cont (17, 3)) shape", yours=tuple(full.shape), expected=(B, OUT))
    moved = x_cat.clone()
    moved[:, 1] = (moved[:, 1] + 1) % cards[1]
    if torch.allclose(predict(model, moved, x_cont), out, atol=1e-12):
        kit.fail("OneHotMLP predictions after changing every row's column-1 code", yours="unchanged",
                 expected="changed", hint="every categorical column goes into the MLP one-hot")
