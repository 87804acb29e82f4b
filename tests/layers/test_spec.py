"""build(spec): stacks from a spec string, and errors naming the bad token."""

import pytest
import torch
from torch import nn

from implicit_em.layers import (
    CompetitiveLinear,
    ImplicitEMLayer,
    build,
)

X = torch.randn(7, 5, dtype=torch.float64)


def test_build_from_spec():
    net = build("5-8:iem(infomax+balance,distance=euclidean,output=gated,T=0.5)-8:solu-6:relu-3")
    iem, comp, lin, relu, head = net
    assert isinstance(iem, ImplicitEMLayer) and iem.distance == "euclidean"
    assert iem.output == "gated" and iem.volume == {"infomax": 1.0, "balance": 1.0}
    assert float(iem.temperature) == pytest.approx(0.5)
    assert isinstance(comp, CompetitiveLinear) and isinstance(relu, nn.ReLU)
    assert isinstance(lin, nn.Linear) and head.out_features == 3
    assert net(X.float()).shape == (7, 3)
    assert build("5-4:iem(none,lse=0)-2")[0].volume == {}
    assert build("5-4:iem-2")[0].volume == {"balance": 1.0}  # the layer's default


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("784-256:foo-10", r"'256:foo': unknown layer kind 'foo'"),
        ("784-abc-10", r"'abc' does not parse"),
        ("784-0-10", r"'0' does not parse"),
        ("x-10", r"'x': the first token is the input width"),
        ("784", r"needs an input width and at least one layer"),
        ("784-256:iem(magic)-10", r"'256:iem\(magic\)': unknown volume control 'magic'"),
        ("784-256:iem(T=-1)-10", r"temperature"),
        ("784-256:iem(T=hot)-10", r"T='hot' is not a number"),
        ("784-256:iem(distance=cosine)-10", r"unknown distance 'cosine'"),
        ("784-256:iem(colour=red)-10", r"unknown option 'colour'"),
        ("784-256:relu(2)-10", r"only iem\(...\) and iemconv\(...\) take arguments"),
        ("784-6:grouped_solu-10", r"'6:grouped_solu': 'grouped_solu' competes in groups of 8"),
        ("", r"non-empty string"),
    ],
)
def test_build_names_the_token_that_does_not_parse(spec, match):
    with pytest.raises(ValueError, match=match):
        build(spec)


def test_stack_spec_is_the_typed_form_of_the_string():
    from implicit_em.layers import IEMSpec, LayerSpec, StackSpec

    text = ("5-8:iem(infomax*0.5+balance,distance=linear,T=0.5,learn_T=1,weight_norm=1,"
            "input_norm=batch)-6:solu-3")  # fmt: skip
    spec = StackSpec.parse(text)
    iem = spec.layers[0].iem
    assert iem == IEMSpec(distance="linear", temperature=0.5, learn_temperature=True,
                          objective={"infomax": 0.5, "balance": 1.0}, weight_norm=True,
                          input_norm="batch")  # fmt: skip
    assert str(spec) == text and StackSpec.parse(str(spec)) == spec  # round trip
    layer = spec.build()[0]
    assert layer.volume == {"infomax": 0.5, "balance": 1.0} and layer.weight_norm
    assert "log_temperature" in dict(layer.named_parameters())
    by_hand = StackSpec(5, (LayerSpec(4, "iem", IEMSpec(objective={}, input_norm="none")),
                            LayerSpec(2)))  # fmt: skip
    assert str(by_hand) == "5-4:iem(none,input_norm=none)-2"
    net = build(by_hand)
    assert net[0].volume == {} and net[0].input_norm is None and net(X.float()).shape == (7, 2)
    assert str(StackSpec.parse("5-4:iem-2")) == "5-4:iem-2"
    with pytest.raises(ValueError, match=r"weight_norm='yes': use 1 or 0"):
        StackSpec.parse("5-4:iem(weight_norm=yes)-2")
    with pytest.raises(ValueError, match=r"weight 'x' is not a number"):
        StackSpec.parse("5-4:iem(infomax*x)-2")
    with pytest.raises(ValueError, match=r"'4:iem\(input_norm=zca\)': input_norm must be"):
        StackSpec.parse("5-4:iem(input_norm=zca)-2").build()


def test_conv_layers_parse_build_and_round_trip():
    from implicit_em.layers import ConvSpec, ImplicitEMConv2d, StackSpec
    from implicit_em.training import train_layerwise

    spec = "1-6:iemconv(k=3,pad=1,pool=max2)-5:iemconv(infomax,k=2,pool=avg4/2/1,distance=linear)-3"
    parsed = StackSpec.parse(spec)
    assert parsed.layers[0].conv == ConvSpec(3, 1, 1, ("max", 2, 2, 0))
    assert parsed.layers[1].conv.pool == ("avg", 4, 2, 1)
    assert parsed.layers[1].iem.objective == {"infomax": 1.0}
    assert str(StackSpec.parse(str(parsed))) == str(parsed)
    net = build(spec)
    assert [type(m).__name__ for m in net] == ["ImplicitEMConv2d", "ImplicitEMConv2d",
                                               "Flatten", "LazyLinear"]  # fmt: skip
    assert isinstance(net[1], ImplicitEMConv2d) and net[1].layer.distance == "linear"
    x = torch.rand(16, 1, 8, 8)
    res = train_layerwise(net, x, epochs=1, batch_size=8, progress=False)
    assert res.stages == [0, 1]
    assert net(x).shape == (16, 3)


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("4-8-6:iemconv", "a conv layer must come before"),
        ("1-4:iemconv-8:relu", "only a plain WIDTH head"),
        ("1-4:iemconv(pool=median2)", "use max2, avg2 or max4/2/1"),
        ("1-4:iemconv(k=big)", "'big' is not a whole number"),
        ("1-4:iemconv(input_norm=sample)", "input_norm"),
        ("1-4:relu(k=3)", "only iem"),
    ],
)
def test_bad_conv_tokens_are_named(spec, match):
    with pytest.raises(ValueError, match=match):
        build(spec)


@pytest.mark.parametrize(
    ("spec", "said"),
    [("1-8:iem(T=1,T=2)", "T= is given twice"), ("1-8:iemconv(k=3,k=5)", "k= is given twice"),
     ("1-8:iemconv(pool=max2,pool=avg2)", "pool= is given twice"),
     ("4-8:iem(balance+balance*2)", "'balance' is given twice"),
     ("4-8:iem(infomax,infomax)", "'infomax' is given twice"),
     ("4-8:iem(infomax,none)", "'none' with other objective terms"),
     ("4-8:iem(none,infomax)", "'none' with other objective terms"),
     ("4-8:iem(none,none)", "'none' with other objective terms")],
)  # fmt: skip
def test_a_key_given_twice_is_refused(spec, said):
    """Issue 34: the last of two values won silently."""
    with pytest.raises(ValueError, match=said):
        build(spec)


def test_conv_spec_takes_a_short_pool():
    """Issue 34: ``ConvSpec(pool=("max", 2))`` failed when printed or built."""
    from implicit_em.layers import ConvSpec, LayerSpec, StackSpec

    conv = ConvSpec(pool=("max", 2))
    assert conv.pool == ("max", 2, 2, 0)
    stack = StackSpec(1, (LayerSpec(4, "iemconv", conv=conv), LayerSpec(10)))
    assert str(stack) == "1-4:iemconv(k=3,pool=max2)-10"
    assert stack.build()[0].pool == ("max", 2, 2, 0)
    with pytest.raises(ValueError, match="pool must be None"):
        ConvSpec(pool=("min", 2))


def test_conv_patch_norm_and_whiten_parse_build_and_round_trip():
    from implicit_em.layers import StackSpec, build

    spec = "1-4:iemconv(k=3,pad=1,patch_norm=0)-6:iemconv(k=2,whiten=0.1)-3"
    assert str(StackSpec.parse(spec)) == spec
    net = build(spec)
    assert net[0].patch_norm is None and net[0].whiten is None  # 0: off
    assert net[1].patch_norm == 10 / 255**2 and net[1].whiten == 0.1  # patch_norm: default
    for bad, says in (("patch_norm=x", "is not a number"), ("whiten=-1", "must be >= 0")):
        with pytest.raises(ValueError, match=says):
            StackSpec.parse(f"1-4:iemconv(k=3,{bad})-3")
