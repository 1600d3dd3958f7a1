"""Probabilistic core layer and trainer: Gaussian approximation, gradients, determinism."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tnsim import specs  # noqa: E402
from tnsim.train import TrainConfig, build, layers, networks, train  # noqa: E402
from tnsim.train.trainer import load_checkpoint, save_checkpoint  # noqa: E402

torch.set_num_threads(2)


def _layer(neurons=6, seed=3, var_floor=0.05):
    layer = layers.ProbCoreLayer(1, neurons, seed=seed, var_floor=var_floor)
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        layer.c.copy_(torch.as_tensor(rng.uniform(0, 1, layer.c.shape) ** 3, dtype=torch.float32))
        layer.b.copy_(torch.as_tensor(rng.integers(-4, 5, layer.b.shape), dtype=torch.float32))
    return layer


def test_fixed_weights_structure():
    layer = layers.ProbCoreLayer(3, 64, seed=1)
    for k in range(3):
        assert np.bincount(layer.axon_types[k].numpy(), minlength=4).tolist() == [64, 64, 64, 64]
        tables = layer.weight_tables[k].numpy()
        assert all(sorted(t) == [-2, -1, 1, 2] for t in tables)
        s = layer.s[k].numpy()
        types = layer.axon_types[k].numpy()
        assert np.array_equal(s, tables[:, types].T)
    assert len({tuple(t) for t in layer.weight_tables[0].numpy()}) > 10  # tables differ


def test_gaussian_moments_and_probability_match_monte_carlo():
    layer = _layer()
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (1, 1, 256)) ** 2
    c = layer.c.detach().numpy()[0]
    s = layer.s.numpy()[0]
    b = layer.b.detach().numpy()[0]
    trials = 20000
    X = rng.random((trials, 256)) < x[0, 0]
    total = np.zeros((trials, c.shape[1]))
    for j in range(c.shape[1]):
        C = rng.random((trials, 256)) < c[:, j]
        total[:, j] = b[j] + ((X & C) * s[:, j]).sum(1)
    mu = b + x[0, 0] @ (c * s)
    var = (x[0, 0][:, None] * c * (1 - x[0, 0][:, None] * c) * s ** 2).sum(0)
    np.testing.assert_allclose(total.mean(0), mu, atol=4 * np.sqrt(var / trials).max() + 1e-9)
    np.testing.assert_allclose(total.var(0), var, rtol=0.05)
    p_mc = (total >= 1).mean(0)
    p = layer(torch.as_tensor(x, dtype=torch.float32)).detach().numpy()[0, 0]
    # the CLT approximation over ~256 inputs: within a few per cent of the sampled frequency
    assert np.abs(p - p_mc).max() < 0.04, (p, p_mc)


def test_gradients_match_finite_differences():
    layer = _layer(neurons=4).double()
    x = torch.rand(3, 1, 256, dtype=torch.float64)
    c = layer.c.detach().clone().clamp(0.05, 0.95).requires_grad_(True)
    b = (layer.b.detach().clone() + 0.3).requires_grad_(True)
    xx = x.clone().requires_grad_(True)
    s = layer.s.double()
    assert torch.autograd.gradcheck(lambda xx, c, b: layers.gaussian_spike_prob(xx, c, s, b, 0.05),
                                    (xx, c, b), eps=1e-6, atol=1e-5)


def test_constrain_projects_parameters():
    net = build("5core", seed=0)
    with torch.no_grad():
        net.layer1.c.add_(3.0)
        net.layer2.c.sub_(3.0)
        net.layer1.b.fill_(1000.0)
    net.constrain()
    assert float(net.layer1.c.detach().max()) <= 1.0 and float(net.layer2.c.detach().min()) >= 0.0
    assert float(net.layer1.b.detach().max()) == 255.0


def test_network_shapes_and_specs():
    for name, cores in (("5core", 5), ("large", 32), ("deep", 100), ("deepwide", 99), ("conv", 100), ("conv2", 100),
                        ("wide", 101)):
        net = build(name, seed=0)
        spec = net.spec
        assert networks.cores_per_copy(spec) == cores
        out = net(torch.rand(7, 784))
        assert out.shape == (7, 10)
        assert torch.all(out >= 0) and torch.all(out <= 25 * len(spec["layers"][-1]["sources"]))
    idx = networks.layer_sources(networks.five_core_spec())[0]
    assert idx[0, 0] == 0 and idx[3, 0] == 12 * 28 + 12 and idx[3, 255] == 27 * 28 + 27
    src = networks.layer_sources(networks.large_spec())[1]
    assert np.bincount(src.ravel(), minlength=2048).tolist() == [2] * 2048
    wide = networks.layer_sources(specs.deepwide_spec(0))
    assert np.bincount(wide[2].ravel(), minlength=6400).tolist() == [1] * 6400   # each middle unit once
    reads = wide[1][wide[1] >= 0]                                                # (-1: axon unused)
    assert np.bincount(reads, minlength=49 * 128).max() <= 2                    # patch units at most twice


def test_shared_layer_is_one_filter_bank_sampled_per_core():
    net = build("conv", seed=2)
    shared = net.layer1
    assert shared.shared and shared.c.shape == (1, 256, 64) and shared.b.shape == (1, 64)
    with torch.no_grad():
        shared.b.uniform_(-3, 3)
    x = torch.rand(5, 49, 256)
    K = 49   # the same as 49 cores that each hold the shared parameters
    ref = layers.gaussian_spike_prob(x, shared.c.expand(K, -1, -1), shared.s.expand(K, -1, -1),
                                     shared.b.expand(K, -1), shared.var_floor)
    torch.testing.assert_close(shared(x), ref)
    shared(x).sum().backward()
    assert shared.c.grad is not None and shared.c.grad.abs().sum() > 0
    sample = shared.sample(np.random.default_rng(0))
    assert sample["crossbar"].shape == (49, 256, 64) and sample["leak"].shape == (49, 64)
    assert (sample["axon_types"] == sample["axon_types"][:1]).all()
    assert (sample["weight_tables"] == sample["weight_tables"][:1]).all()
    assert (sample["leak"] == sample["leak"][:1]).all()
    assert (sample["crossbar"][0] != sample["crossbar"][1]).any()   # each core its own sample
    assert not networks.deep_spec()["layers"][0].get("shared")
    assert networks.layer_sources(networks.conv_spec())[1].tolist() == networks.layer_sources(networks.deep_spec())[1].tolist()


def test_shared_local_sources_repeat_one_pattern():
    spec = specs.conv2_spec()
    assert [bool(layer.get("shared")) for layer in spec["layers"]] == [True, True, False]
    src = networks.layer_sources(spec)[1]
    # every middle core reads, at each window offset, the same units of its patch core
    rel = [[u % 64 for u in s if u >= 0] for s in src.tolist()]
    assert all(r == rel[0] for r in rel) and len(rel[0]) == 252
    for q in range(25):
        a, b = divmod(q, 5)
        cores = sorted({u // 64 for u in src[q].tolist() if u >= 0})
        assert cores == sorted((a + da) * 7 + b + db for da in range(3) for db in range(3))
    reads = np.bincount(src[src >= 0], minlength=49 * 64).reshape(49, 64)
    assert reads.sum(1).max() <= 256 and reads[24].min() >= 3   # the centre core's units: 3-4 reads


def test_deep_spec_is_local_and_balanced():
    spec = networks.deep_spec()
    s0, s1, s2 = networks.layer_sources(spec)
    assert s0.shape == (49, 256) and s1.shape == (25, 256) and s2.shape == (26, 256)
    # middle core (a, b) reads 28 units from each patch core of the 3x3 block at (a, b)
    for q in range(25):
        a, b = divmod(q, 5)
        cores = s1[q][s1[q] >= 0] // 64
        blocks = {(k // 7, k % 7) for k in cores.tolist()}
        assert blocks == {(a + i, b + j) for i in range(3) for j in range(3)}
        assert np.bincount(cores, minlength=49)[cores].tolist() == [28] * len(cores)
        assert len(set(s1[q][s1[q] >= 0].tolist())) == 252
    # every output-layer source is a middle unit read exactly twice
    assert np.bincount(s2[s2 >= 0], minlength=3200).tolist() == [2] * 3200
    # reads of a patch core's units: balanced (a unit at most one more than another) and <= 256
    reads = np.bincount(s1[s1 >= 0], minlength=49 * 64).reshape(49, 64)
    assert (reads.max(1) - reads.min(1)).max() <= 1 and reads.sum(1).max() <= 256
    networks.check_spec(spec)


def test_first_form_specs_are_converted():
    patches = [[r, c, 16, 16] for r in (0, 12) for c in (0, 12)]
    old = {"name": "5core", "image_shape": [28, 28], "patches": patches, "hidden": 64,
           "out_sources": [list(range(256))], "classes": 10, "per_class": 25}
    assert networks.layered(old) == networks.five_core_spec()
    a, b = build(old, seed=3), build("5core", seed=3)
    x = torch.rand(5, 784)
    assert torch.equal(a(x), b(x))


def test_checkpoints_of_the_first_form_load(tmp_path):
    """A two-layer checkpoint written before layered specs: old spec keys and index buffers."""
    patches = [[r, c, 16, 16] for r in (0, 12) for c in (0, 12)]
    old_spec = {"name": "5core", "image_shape": [28, 28], "patches": patches, "hidden": 64,
                "out_sources": [list(range(256))], "classes": 10, "per_class": 25}
    cfg = TrainConfig(epochs=1, seed=2)
    ref = build(old_spec, seed=2)
    with torch.no_grad():
        ref.layer1.c.uniform_(0, 1)
        ref.layer2.b.fill_(-2.0)
    state = dict(ref.state_dict())
    state["in_idx"] = torch.as_tensor(networks.layer_sources(old_spec)[0])
    state["src_idx"] = torch.as_tensor(networks.layer_sources(old_spec)[1])
    for i, layer in enumerate(ref.layers):     # the signed weights were saved then
        state[f"layer{i + 1}.s"] = layer.s.clone()
    from dataclasses import asdict
    old_cfg = {k: v for k, v in asdict(cfg).items() if k != "device"}   # no device field then
    torch.save({"spec": old_spec, "config": old_cfg, "state": state, "history": []}, tmp_path / "old.pt")
    model, cfg2, _ = load_checkpoint(tmp_path / "old.pt")
    x = torch.rand(4, 784)
    assert torch.equal(model(x), ref.eval()(x)) and cfg2.device == "cpu"


def test_checkpoints_leave_out_the_signed_weights_and_loading_rebuilds_them(tmp_path):
    """``s`` is a function of the axon types and weight tables: not saved, recomputed on load
    (also when the tables in the file differ from those the seed would give)."""
    model = build("5core", seed=4)
    with torch.no_grad():
        model.layer2.weight_tables.copy_(model.layer2.weight_tables.flip(2))
        model.layer2.s = layers.signed_weights(model.layer2.axon_types, model.layer2.weight_tables)
    save_checkpoint(tmp_path / "a.pt", model, TrainConfig(epochs=0, seed=4))
    saved = torch.load(tmp_path / "a.pt", weights_only=False)["state"]
    assert not [k for k in saved if k.endswith(".s")]
    loaded, _, _ = load_checkpoint(tmp_path / "a.pt")
    for layer in loaded.layers:
        types, tables = layer.axon_types.numpy(), layer.weight_tables.numpy()
        expect = np.stack([tables[k][:, types[k]].T for k in range(len(types))])   # (K, A, N)
        assert np.array_equal(layer.s.numpy(), expect)
    x = torch.rand(3, 784)
    assert torch.equal(loaded(x), model.eval()(x))


@pytest.mark.parametrize("bad,match", [
    ({"layers": [{"neurons": 64, "sources": [list(range(300))]}, {"neurons": 250, "sources": [[0]]}]},
     "reads 300 sources"),
    ({"layers": [{"neurons": 64, "sources": [[900]]}, {"neurons": 250, "sources": [[0]]}]}, "reads source 900"),
    ({"layers": [{"neurons": 64, "sources": [[0]]}, {"neurons": 250, "sources": [[0]] * 257}]}, "257 neurons"),
    ({"layers": [{"neurons": 64, "sources": [[0]]}, {"neurons": 20, "sources": [[0]]}]}, "not classes x per_class"),
    ({"layers": [{"neurons": 64, "sources": [[0, 1], [2]], "shared": True}, {"neurons": 250, "sources": [[0]]}]},
     "shared but its cores use different axons"),
])
def test_bad_specs_are_named(bad, match):
    spec = {"name": "bad", "image_shape": [28, 28], "classes": 10, "per_class": 25, **bad}
    with pytest.raises(ValueError, match=match):
        networks.check_spec(spec)


def _tiny_data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    # a learnable toy task: class k lights up a band of rows
    x = rng.uniform(0, 0.2, (n, 28, 28)).astype(np.float32)
    for i, k in enumerate(y):
        x[i, 2 * k + 4: 2 * k + 7, 4:24] = 0.9
    return x.reshape(n, -1), y


def test_training_is_deterministic_and_learns(tmp_path):
    x, y = _tiny_data()
    cfg = TrainConfig(epochs=2, lr=0.02, beta=0.5, seed=5, batch_size=50)
    m1, h1 = train(cfg, x, y, x[:200], y[:200], progress=False, checkpoint=tmp_path / "a.pt")
    m2, h2 = train(cfg, x, y, progress=False)
    for (k, v1), v2 in zip(m1.state_dict().items(), m2.state_dict().values()):
        assert torch.equal(v1, v2), k
    assert h1[-1]["val_expected_acc"] > 0.8
    m3, cfg3, hist = load_checkpoint(tmp_path / "a.pt")
    assert cfg3 == cfg and hist == h1
    xt = torch.as_tensor(x[:50])
    assert torch.equal(m1(xt), m3(xt))
    cfg_b = TrainConfig(epochs=1, seed=6, batch_size=50)
    m4, _ = train(cfg_b, x, y, progress=False)
    assert not torch.equal(m4.layer1.c, m1.layer1.c)
    save_checkpoint(tmp_path / "b.pt", m4, cfg_b)
    assert (tmp_path / "b.pt").exists()


def test_random_shift_moves_images_within_bounds():
    from tnsim.train.trainer import random_shift

    x = torch.zeros(50, 784)
    x[:, 14 * 28 + 14] = 1.0
    y = random_shift(x, [28, 28], 2, torch.Generator().manual_seed(0))
    pos = y.argmax(1)
    dr, dc = pos // 28 - 14, pos % 28 - 14
    assert torch.all(y.sum(1) == 1) and dr.abs().max() <= 2 and dc.abs().max() <= 2
    assert len(set(zip(dr.tolist(), dc.tolist()))) > 5


def test_random_affine_is_seeded_and_bounded():
    from tnsim.train.trainer import random_affine

    x = torch.zeros(200, 784)
    x[:, 14 * 28 + 14] = 1.0          # one bright pixel at the centre
    same = random_affine(x, [28, 28], 0, 0.0, 0.0, torch.Generator().manual_seed(0))
    torch.testing.assert_close(same, x, atol=1e-5, rtol=0)   # no augmentation: the image itself
    a = random_affine(x, [28, 28], 2, 12.0, 0.1, torch.Generator().manual_seed(1))
    b = random_affine(x, [28, 28], 2, 12.0, 0.1, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    # the centre does not move under rotation and scaling, so the pixel moves by the shift only
    ys = (a.reshape(-1, 28, 28).sum(2) * torch.arange(28)).sum(1) / a.sum(1)
    xs = (a.reshape(-1, 28, 28).sum(1) * torch.arange(28)).sum(1) / a.sum(1)
    assert (ys - 14.0).abs().max() <= 2.6 and (xs - 14.0).abs().max() <= 2.6
    assert (ys - 14.0).std() > 0.5 and (xs - 14.0).std() > 0.5
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    # a pixel off the centre turns: at +-12 degrees, row 4 of a vertical bar moves sideways
    bar = torch.zeros(200, 28, 28)
    bar[:, 4:25, 14] = 1.0
    r = random_affine(bar.reshape(200, -1), [28, 28], 0, 12.0, 0.0, torch.Generator().manual_seed(2))
    top = r.reshape(-1, 28, 28)[:, 4:7].sum(1)
    centre_x = (top * torch.arange(28)).sum(1) / top.sum(1)
    assert (centre_x - 14.0).abs().max() > 1.0


def test_elastic_distortion_is_a_smooth_seeded_displacement_of_the_right_size():
    from tnsim.train.trainer import random_affine

    # on a horizontal ramp (value = column / 27) bilinear sampling is exact, so an output pixel's
    # value gives back the horizontal displacement it was read from
    cols = torch.arange(28, dtype=torch.float32) / 27
    ramp = cols.repeat(28, 1).reshape(1, -1).repeat(64, 1)
    plain = random_affine(ramp, [28, 28], 0, 0.0, 0.0, torch.Generator().manual_seed(0))
    torch.testing.assert_close(plain, ramp, atol=1e-5, rtol=0)
    a = random_affine(ramp, [28, 28], 0, 0.0, 0.0, torch.Generator().manual_seed(5), elastic=36.0, elastic_sigma=6.0)
    b = random_affine(ramp, [28, 28], 0, 0.0, 0.0, torch.Generator().manual_seed(5), elastic=36.0, elastic_sigma=6.0)
    assert torch.equal(a, b)
    inner = (slice(None), slice(6, 22), slice(6, 22))          # away from the zero border
    dx = (a.reshape(-1, 28, 28) * 27 - torch.arange(28))[inner]
    # uniform noise (sd 1/sqrt 3) smoothed by a normalised 2-D Gaussian of sd 6 has sd about
    # 1 / (sqrt 3 * 2 sqrt(pi) * 6) = 0.027; times 36 pixels: about 1 pixel
    assert 0.5 < float(dx.std()) < 2.0
    assert float(dx.abs().max()) < 36 * 0.2
    # smooth: neighbouring pixels move nearly together; different images move differently
    assert float((dx[:, :, 1:] - dx[:, :, :-1]).abs().mean()) < 0.2 * float(dx.abs().mean())
    assert float((dx[0] - dx[1]).abs().mean()) > 0.3
    # sharper fields (smaller sigma) are rougher
    c = random_affine(ramp, [28, 28], 0, 0.0, 0.0, torch.Generator().manual_seed(5), elastic=36.0, elastic_sigma=2.0)
    dc = (c.reshape(-1, 28, 28) * 27 - torch.arange(28))[inner]
    rough = float((dc[:, :, 1:] - dc[:, :, :-1]).abs().mean()) / float(dc.abs().mean())
    assert rough > float((dx[:, :, 1:] - dx[:, :, :-1]).abs().mean()) / float(dx.abs().mean())
    with pytest.raises(ValueError, match="elastic_sigma"):
        random_affine(ramp, [28, 28], 0, 0.0, 0.0, torch.Generator(), elastic=1.0, elastic_sigma=0.0)
    with pytest.raises(ValueError, match="elastic = -1"):
        random_affine(ramp, [28, 28], 0, 0.0, 0.0, torch.Generator(), elastic=-1.0)


def test_elastic_field_is_drawn_after_the_affine_parameters():
    from tnsim.train.trainer import random_affine

    # the affine draws come first, so a vanishingly weak field leaves the same affine map (and
    # with the field off, the random stream is exactly the one of the affine recipe)
    x = torch.rand(20, 784, generator=torch.Generator().manual_seed(1))
    a = random_affine(x, [28, 28], 2, 12.0, 0.1, torch.Generator().manual_seed(3))
    b = random_affine(x, [28, 28], 2, 12.0, 0.1, torch.Generator().manual_seed(3), elastic=1e-4)
    torch.testing.assert_close(a, b, atol=1e-3, rtol=0)
    c = random_affine(x, [28, 28], 2, 12.0, 0.1, torch.Generator().manual_seed(3), elastic=3.0)
    assert float((a - c).abs().max()) > 0.1


def test_training_with_elastic_distortion_is_seeded_and_differs_from_without():
    x, y = _tiny_data()
    base = dict(epochs=1, lr=0.02, beta=0.5, seed=7, batch_size=50, shift=1)
    plain, _ = train(TrainConfig(**base), x, y, progress=False)
    el1, _ = train(TrainConfig(**base, elastic=20.0, elastic_sigma=5.0), x, y, progress=False)
    el2, _ = train(TrainConfig(**base, elastic=20.0, elastic_sigma=5.0), x, y, progress=False)
    assert torch.equal(el1.layer1.c, el2.layer1.c)
    assert not torch.equal(el1.layer1.c, plain.layer1.c)


@pytest.mark.parametrize("setting, value", [
    ("epochs", -1), ("batch_size", 0), ("optimizer", "lbfgs"), ("lr", 0.0), ("lr_decay", "linear"),
    ("momentum", 1.0), ("dropout", 1.0), ("dropout", -0.1), ("beta", 0.0), ("var_floor", -1e-3),
    ("threads", -1), ("train_subset", -5), ("shift", -1), ("rotate", -2.0), ("scale", 1.0),
    ("elastic", -1.0), ("elastic_sigma", 0.0),
])
def test_training_settings_out_of_range_are_refused_by_name(setting, value):
    TrainConfig().validate()  # the defaults are valid
    with pytest.raises(ValueError, match=f"training setting {setting} = "):
        TrainConfig(**{setting: value}).validate()
    with pytest.raises(ValueError, match=setting):  # train() checks before building anything
        train(TrainConfig(**{setting: value}), np.zeros((4, 784), np.float32), np.zeros(4, np.int64))


def test_cli_train_refuses_a_bad_setting_before_reading_data(tmp_path, capsys):
    from tnsim.cli import main

    # The data folder does not exist: were it read first, the error would be about MNIST.
    assert main(["train", "--epochs", "-1", "--data-dir", str(tmp_path / "none")]) == 2
    assert "training setting epochs = -1 must be >= 0" in capsys.readouterr().err
