"""Deployment and evaluation: the simulator agrees exactly with an independent forward pass."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tnsim  # noqa: E402
from conftest import DATA_DIR  # noqa: E402
from tnsim import data, deploy, evaluate  # noqa: E402
from tnsim.train import TrainConfig, build, networks, train  # noqa: E402

torch.set_num_threads(2)
HAVE_MNIST = (DATA_DIR / "mnist" / "t10k-images-idx3-ubyte.gz").is_file()


@pytest.fixture(scope="module")
def mnist():
    if not HAVE_MNIST:
        pytest.skip(f"MNIST not found under {DATA_DIR}")
    ds = data.load("mnist", DATA_DIR)
    return (data.to_float(ds.train_images[:3000]), ds.train_labels[:3000].astype(np.int64),
            data.to_float(ds.test_images[:300]), ds.test_labels[:300].astype(np.int64))


@pytest.fixture(scope="module")
def model(mnist):
    x, y, _, _ = mnist
    m, _ = train(TrainConfig(epochs=1, lr=0.01, beta=0.3, seed=1), x, y, progress=False)
    return m


def test_sampling_rules(model):
    samples = deploy.sample(model, 3, seed=4)
    c1 = model.layer1.c.detach().numpy()
    for smp in samples:
        cb = smp["l1"]["crossbar"]
        assert cb.shape == c1.shape
        assert not cb[c1 == 0].any() and cb[c1 == 1].all()
        assert np.array_equal(smp["l1"]["leak"], np.clip(np.rint(model.layer1.b.detach().numpy()), -255, 255))
    # fresh uniforms per copy: copies differ; same seed: same samples
    assert not np.array_equal(samples[0]["l1"]["crossbar"], samples[1]["l1"]["crossbar"])
    again = deploy.sample(model, 3, seed=4)
    assert all(np.array_equal(a["l2"]["crossbar"], b["l2"]["crossbar"]) for a, b in zip(samples, again))
    # the on-fraction follows c
    frac = np.mean([s["l1"]["crossbar"].mean() for s in samples])
    assert abs(frac - c1.mean()) < 0.01


@pytest.mark.parametrize("sampling", deploy.SAMPLINGS)
def test_each_copy_is_a_sample_of_c(model, sampling):
    """Every copy of either sampling follows c: the on-fraction of synapses whose probability
    is in a bin matches the bin, for each single copy (stratifying changes the copies' joint
    law, not each copy's)."""
    c = model.layer2.c.detach().numpy()
    bins = np.digitize(c, [0.2, 0.4, 0.6, 0.8])
    for smp in deploy.sample(model, 4, seed=3, sampling=sampling):
        on = smp["l2"]["crossbar"]
        for b in range(5):
            sel = bins == b
            if sel.sum() > 2000:
                assert abs(on[sel].mean() - c[sel].mean()) < 0.03, (sampling, b)


def test_stratified_copies_have_floor_or_ceil_of_n_c(model):
    """Latin hypercube over the copies of each model: a synapse is on in floor(n c) or
    ceil(n c) of its model's n copies; with two models, copies taken in turn."""
    other = build("5core", seed=2)       # untrained: c uniform in [0, 1]
    samples = deploy.sample([model, other], 6, seed=5, sampling="stratified")
    for m, mdl in enumerate((model, other)):
        for name, layer in (("l1", mdl.layer1), ("l2", mdl.layer2)):
            c = layer.probabilities()
            count = sum(samples[e][name]["crossbar"].astype(int) for e in range(m, 6, 2))
            assert np.all((count == np.floor(3 * c)) | (count == np.ceil(3 * c))), (m, name)
    # independent copies spread binomially: some synapse is on in a count outside that range
    free = deploy.sample(model, 3, seed=5, sampling="independent")
    count = sum(s["l2"]["crossbar"].astype(int) for s in free)
    c = model.layer2.probabilities()
    assert not np.all((count == np.floor(3 * c)) | (count == np.ceil(3 * c)))
    again = deploy.sample([model, other], 6, seed=5, sampling="stratified")
    assert all(np.array_equal(a["l1"]["crossbar"], b["l1"]["crossbar"]) for a, b in zip(samples, again))
    with pytest.raises(ValueError, match="sampling = 'lhs'"):
        deploy.sample(model, 2, sampling="lhs")


def test_memoryless_neurons_and_routes(model):
    net, _ = deploy.deploy(model, 2, seed=0)
    meta = net.metadata[deploy.META_KEY]
    assert net.num_cores == 10 and meta["cores_per_copy"] == 5 and net.output_ports == 20
    for pl in meta["placement"]:
        (ox, oy), = pl["output_cores"]
        for xy in pl["patch_cores"]:
            nr = net.core(tuple(xy)).neurons
            assert np.all(nr.threshold == 1) and np.all(nr.reset_value == 0) and np.all(nr.reset_mode == 0)
            assert np.all(nr.negative_saturation) and np.all(nr.negative_threshold == 0)
            used = nr.target_axon >= 0
            assert used.sum() == 64 and np.all(nr.target_delay[used] == 1)
            assert np.all(xy[0] + nr.target_dx[used] == ox) and np.all(xy[1] + nr.target_dy[used] == oy)
            assert abs(ox - xy[0]) + abs(oy - xy[1]) <= 2
        out = net.core((ox, oy)).neurons
        assert sorted(set(out.output_port.tolist())) == [-1] + list(range(meta["copies"] * 10))[
            10 * meta["placement"].index(pl): 10 * meta["placement"].index(pl) + 10]


@pytest.mark.parametrize("ticks,mode", [(1, "stochastic"), (2, "stochastic"), (3, "threshold"),
                                        (2, "stochastic-shared"), (2, "stochastic-stratified")])
def test_simulator_matches_independent_forward(model, mnist, ticks, mode):
    _, _, xt, yt = mnist
    net, samples = deploy.deploy(model, 3, seed=7)
    spikes = evaluate.encode(xt, ticks, mode, seed=11, copies=3)
    assert spikes.shape == ((len(xt), ticks, 3, 784) if mode in evaluate.PER_COPY else (len(xt), ticks, 784))
    sim = evaluate.simulate(net, spikes, chunk=70)
    ref = deploy.forward(model.spec, samples, spikes)
    assert sim["counts"].sum() > 0
    np.testing.assert_array_equal(sim["counts"], ref)
    assert np.array_equal(evaluate.decide(sim["counts"]), evaluate.decide(ref))
    assert sim["ticks"] == len(xt) * ticks + 1


def test_large_network_deploys_and_matches(mnist):
    _, _, xt, _ = mnist
    m = build("large", seed=2)
    net, samples = deploy.deploy(m, 1, seed=1)
    assert net.num_cores == 32
    spikes = evaluate.encode(xt[:60], 1, "stochastic", seed=1)
    np.testing.assert_array_equal(evaluate.simulate(net, spikes)["counts"],
                                  deploy.forward(m.spec, samples, spikes))
    # samples are recoverable from the network alone
    back = deploy.samples_from_network(net)
    np.testing.assert_array_equal(deploy.forward(m.spec, back, spikes), deploy.forward(m.spec, samples, spikes))


def test_placement_spills_onto_more_chips():
    spec = networks.large_spec()
    chips, places = deploy.placement(spec, 130)
    assert chips == (2, 1)
    coords = [tuple(xy) for pl in places for k in ("patch_cores", "output_cores") for xy in pl[k]]
    assert len(set(coords)) == len(coords) == 130 * 32
    assert all(0 <= x < 128 and 0 <= y < 64 for x, y in coords)
    for pl in places:  # a copy never straddles chips
        assert len({x // 64 for x, _ in pl["patch_cores"] + pl["output_cores"]}) == 1
    chips5, _ = deploy.placement(networks.five_core_spec(), 64)
    assert chips5 == (1, 1)
    chips_d, places_d = deploy.placement(networks.deep_spec(), 64)
    coords = [tuple(xy) for pl in places_d for layer in pl["layer_cores"] for xy in layer]
    assert len(set(coords)) == len(coords) == 64 * 100 and chips_d == (2, 1)


@pytest.mark.parametrize("name", ["deep", "conv"])
def test_three_layer_network_deploys_and_matches(mnist, name):
    _, _, xt, _ = mnist
    m = build(name, seed=1)
    with torch.no_grad():   # biases that make every layer spike now and then
        for layer in m.layers:
            layer.b.fill_(-3.0)
    net, samples = deploy.deploy(m, 2, seed=4)
    meta = net.metadata[deploy.META_KEY]
    assert net.num_cores == 200 and meta["output_delay"] == 2 and meta["cores_per_copy"] == 100
    spikes = evaluate.encode(xt[:40], 2, "stochastic", seed=3, copies=2)
    sim = evaluate.simulate(net, spikes, chunk=15)
    ref = deploy.forward(m.spec, samples, spikes)
    assert ref.sum() > 0 and sim["ticks"] == 40 * 2 + 2
    np.testing.assert_array_equal(sim["counts"], ref)
    back = deploy.samples_from_network(net)
    np.testing.assert_array_equal(deploy.forward(m.spec, back, spikes), ref)


def test_shifted_views_deploy_and_match(mnist):
    _, _, xt, _ = mnist
    m = build("5core", seed=2)
    with torch.no_grad():
        m.layer1.b.fill_(-2.0)
    net, samples = deploy.deploy(m, 9, seed=3, views=9)
    meta = net.metadata[deploy.META_KEY]
    assert meta["shifts"] == [list(s) for s in deploy.VIEW_SHIFTS] and meta["views"] == 9
    spikes = evaluate.encode(xt[:30], 1, "stochastic", seed=1, copies=9)
    sim = evaluate.simulate(net, spikes, chunk=7)
    ref = deploy.forward(m.spec, samples, spikes, shifts=meta["shifts"])
    np.testing.assert_array_equal(sim["counts"], ref)
    # copy 0 is unshifted and equals an unshifted deployment of the same sample
    np.testing.assert_array_equal(ref[:, 0], deploy.forward(m.spec, samples[:1], spikes[:, :, :1])[:, 0])
    assert not np.array_equal(ref[:, 1], deploy.forward(m.spec, samples[1:2], spikes[:, :, 1:2])[:, 0])
    # copy 2 sees the image moved down one row: view pixel (r, c) reads image pixel (r - 1, c),
    # so its patch core 0's axon 16 (view (1, 0)) is fed by image pixel 0, axon 0 by nothing
    im = meta["input_map"]
    core0 = meta["placement"][2]["patch_cores"][0] if "patch_cores" in meta["placement"][2] \
        else meta["placement"][2]["layer_cores"][0][0]
    feeds = {(a, p) for p, c, x, y, a in zip(im["pixel"], im["copy"], im["x"], im["y"], im["axon"])
             if c == 2 and [x, y] == list(core0)}
    assert (16, 0) in feeds and not any(a == 0 for a, _ in feeds)
    with pytest.raises(ValueError, match="views = 10"):
        deploy.deploy(m, 2, views=10)


def test_stochastic_encoding_is_per_copy_and_independent_of_slicing(mnist):
    _, _, xt, _ = mnist
    sp = evaluate.Spikes(xt, 2, "stochastic", seed=9, copies=4)
    whole = sp[:]
    assert whole.shape == (len(xt), 2, 4, 784)
    np.testing.assert_array_equal(np.concatenate([sp[0:7], sp[7:260], sp[260:]]), whole)
    assert not np.array_equal(whole[:, :, 0], whole[:, :, 1])          # copies draw independently
    # each axon spikes with the pixel's intensity as probability
    rate = whole.mean(axis=(1, 2))
    assert abs(float(rate.mean()) - float(xt.mean())) < 0.01
    shared = evaluate.Spikes(xt, 1, "stochastic-shared", seed=9)
    assert shared[:].shape == (len(xt), 1, 784)
    with pytest.raises(ValueError, match="unknown encoding"):
        evaluate.Spikes(xt, 1, "poisson")


def test_stratified_encoding_spreads_each_pixel_over_the_copies(mnist):
    """Each copy's law is the stochastic one, but floor(n p) or ceil(n p) of the n copies see
    a pixel of intensity p spike in a tick; intensity 1 always spikes, 0 never."""
    _, _, xt, _ = mnist
    x = xt.copy()
    x[:, 0], x[:, 1] = 1.0, 0.0
    sp = evaluate.Spikes(x, 2, "stochastic-stratified", seed=9, copies=6)
    whole = sp[:]
    assert whole.shape == (len(x), 2, 6, 784)
    np.testing.assert_array_equal(np.concatenate([sp[0:7], sp[7:260], sp[260:]]), whole)
    assert whole[..., 0].all() and not whole[..., 1].any()
    count = whole.sum(axis=2)
    n_p = 6 * x[:, None, :].astype(np.float64)
    assert np.all((count == np.floor(n_p)) | (count == np.ceil(n_p)))
    assert abs(float(whole[:, :, 3].mean()) - float(x.mean())) < 0.01     # one copy alone
    assert not np.array_equal(whole[:, :, 0], whole[:, :, 1])
    # the independent encoding spreads binomially
    free = evaluate.Spikes(x, 2, "stochastic", seed=9, copies=6)[:].sum(axis=2)
    assert not np.all((free == np.floor(n_p)) | (free == np.ceil(n_p)))


def test_save_load_round_trip_gives_same_decisions(model, mnist, tmp_path):
    _, _, xt, yt = mnist
    net, _ = deploy.deploy(model, 4, seed=3)
    path = tmp_path / "m.tnsim"
    net.save(path)
    loaded = tnsim.load(path)
    assert loaded == net and loaded.metadata == net.metadata
    r1 = evaluate.evaluate(net, xt, yt, seed=5, chunk=128)
    r2 = evaluate.evaluate(loaded, xt, yt, seed=5, chunk=1000)
    assert np.array_equal(r1["predictions"], r2["predictions"])
    assert r1["accuracy"] == r2["accuracy"] and r1["counters"] == r2["counters"]
    assert r1["accuracy"] > 0.5 and r1["energy_uj_per_image"] > 0 and r1["cores"] == 20
    back = deploy.samples_from_network(loaded)
    spikes = evaluate.encode(xt, 1, "stochastic", seed=5, copies=4)
    np.testing.assert_array_equal(deploy.forward(loaded.metadata[deploy.META_KEY]["spec"], back, spikes),
                                  r1["counts"])


def test_input_map_rows():
    spec = networks.five_core_spec()
    m = build(spec, seed=0)
    net, _ = deploy.deploy(m, 2, seed=0)
    imap = evaluate.InputMap(net.metadata[deploy.META_KEY])
    spikes = np.zeros((2, 1, 784), bool)
    spikes[0, 0, 0] = True              # pixel (0, 0): only patch 0
    spikes[1, 0, 13 * 28 + 13] = True   # pixel (13, 13): all four patches
    rows = imap.rows(spikes, 10)
    assert rows.shape == (2 * (1 + 4), 4)
    assert sorted(rows[:, 0].tolist()) == [10, 10] + [11] * 8
    r0 = rows[rows[:, 0] == 10]
    assert set(r0[:, 3].tolist()) == {0}
    # per-copy spikes reach only their copy's cores
    per = np.zeros((1, 1, 2, 784), bool)
    per[0, 0, 1, 13 * 28 + 13] = True
    rows = imap.rows(per, 0)
    copy1 = {tuple(xy) for xy in net.metadata[deploy.META_KEY]["placement"][1]["patch_cores"]}
    assert len(rows) == 4 and {(x, y) for x, y in rows[:, 1:3].tolist()} == copy1


def test_decide_tie_rule():
    counts = np.array([[[0, 3, 3, 1]], [[0, 0, 0, 0]]])
    assert evaluate.decide(counts).tolist() == [1, 0]


def test_cli_train_deploy_eval_reproduce(tmp_path, capsys):
    if not HAVE_MNIST:
        pytest.skip(f"MNIST not found under {DATA_DIR}")
    from tnsim.cli import main

    common = ["--data-dir", str(DATA_DIR), "--no-download"]
    ck = tmp_path / "m.pt"
    assert main(["train", *common, "--epochs", "1", "--train-subset", "1000", "-o", str(ck)]) == 0
    assert main(["deploy", str(ck), "--copies", "2", "-o", str(tmp_path / "m.tnsim")]) == 0
    assert main(["eval", str(tmp_path / "m.tnsim"), *common, "--test-subset", "100",
                 "--json", str(tmp_path / "r.json")]) == 0
    import json

    row = json.loads((tmp_path / "r.json").read_text())
    assert row["copies"] == 2 and row["cores"] == 10 and row["images"] == 100
    out = tmp_path / "rep"
    assert main(["reproduce", "--out", str(out), *common, "--networks", "5core", "--epochs", "1",
                 "--train-subset", "1000", "--test-subset", "100", "--copies", "1,3"]) == 0
    rows = json.loads((out / "results.json").read_text())
    assert [(r["network"], r["copies"], r["cores"]) for r in rows] == [("5core", 1, 5), ("5core", 3, 15)]
    assert "92.7" in capsys.readouterr().out
    assert main(["eval", str(ck), *common]) == 2  # not a network file
    # again with a second model and a mixed ensemble: the finished 5core checkpoint is reused
    assert main(["reproduce", "--out", str(out), *common, "--networks", "5core,5core+large", "--epochs", "1",
                 "--train-subset", "500", "--test-subset", "60", "--copies", "4", "--models", "2"]) == 0
    err = capsys.readouterr().err
    assert err.count("reusing the finished checkpoint") == 0   # other train subset: retrained
    assert main(["reproduce", "--out", str(out), *common, "--networks", "5core+large", "--epochs", "1",
                 "--train-subset", "500", "--test-subset", "60", "--copies", "4", "--models", "2"]) == 0
    assert capsys.readouterr().err.count("reusing the finished checkpoint") == 4
    rows = json.loads((out / "results.json").read_text())
    assert [(r["network"], r["copies"], r["cores"], r["models"]) for r in rows] == [
        ("5core+large (2 models each)", 4, 5 + 32 + 5 + 32, 4)]
    capsys.readouterr()
    assert main(["expect", str(ck), str(ck), *common, "--copies", "4", "--views", "2", "--test-subset", "100"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["models"] == 2 and row["copies"] == 4 and row["images"] == 100 and 0.2 < row["expected_accuracy"] <= 1   # chance: 0.1
    assert main(["expect", str(ck), *common, "--views", "10", "--test-subset", "10"]) == 2
    assert "views = 10 is out of range" in capsys.readouterr().err


def test_ensemble_expected_counts_follow_the_deployment_layout(model, mnist):
    """Copy e is model e % M on view e % V: the sum of each copy's expected counts."""
    from tnsim.train import ensemble_expected_counts

    _, _, xt, _ = mnist
    x = xt[:40]
    other = build("5core", seed=3)
    with torch.no_grad():
        other.layer1.c.uniform_(0, 1)
        plain = model.eval()(torch.as_tensor(x)).double().numpy()
        img = x.reshape(-1, 28, 28)
        right = np.zeros_like(img)
        right[:, :, 1:] = img[:, :, :-1]               # VIEW_SHIFTS[1] = (0, 1): one pixel right
        moved = other.eval()(torch.as_tensor(right.reshape(-1, 784))).double().numpy()
    assert np.array_equal(ensemble_expected_counts(model, x), plain)
    got = ensemble_expected_counts([model, other], x, copies=3, views=2, batch=16)
    assert np.allclose(got, 2 * plain + moved, rtol=1e-12, atol=1e-9)
    with pytest.raises(ValueError, match="copies = 0"):
        ensemble_expected_counts(model, x, copies=0)
    with pytest.raises(ValueError, match="no models"):
        ensemble_expected_counts([], x)


def test_ensemble_of_different_networks(mnist):
    """Copies taken in turn from models of different specs: placement, routes and the
    independent forward pass agree, and the samples come back from the network alone."""
    _, _, xt, _ = mnist
    m5, mL = build("5core", seed=3), build("large", seed=4)
    net, samples = deploy.deploy([m5, mL], 3, seed=2)
    meta = net.metadata[deploy.META_KEY]
    specs = deploy.network_specs(meta)
    assert [sp["name"] for sp in specs] == ["5core", "large", "5core"] and meta["spec"]["name"] == "5core+large"
    assert net.num_cores == 5 + 32 + 5 and meta["cores_per_copy"] == [5, 32, 5] and meta["models"] == 2
    spikes = evaluate.encode(xt[:50], 1, "stochastic", seed=8, copies=3)
    sim = evaluate.simulate(net, spikes, chunk=20)
    np.testing.assert_array_equal(sim["counts"], deploy.forward(specs, samples, spikes))
    np.testing.assert_array_equal(deploy.forward(specs, deploy.samples_from_network(net), spikes), sim["counts"])
    with pytest.raises(ValueError, match="same number of layers"):
        deploy.deploy([m5, build("deep", seed=0)], 2)
    with pytest.raises(ValueError, match="no model"):
        deploy.sample([], 2)
