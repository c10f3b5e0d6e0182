"""A simulated accelerator for CPU-only CI: tensors that *say* they live on another device.

CI has no GPU, so code that forgets a ``device=`` (a probe made with ``torch.full(...)`` while
the model sits on the GPU, a KDE left on the CPU, ``.numpy()`` without ``.cpu()``) passes every
CPU test and fails on the first real GPU. :func:`fake_accelerator` makes such mistakes fail on
the CPU too:

* PyTorch's PrivateUse1 backend is renamed ``fakeacc`` (once per process, with the dummy
  hooks and device guard of ``torch.utils.backend_registration``), so ``torch.device("fakeacc")``
  is a real non-CPU device that the autograd engine, ``nn.Module.to`` and ``torch.load`` know.
* :class:`FakeTensor` is a wrapper subclass (``_make_wrapper_subclass`` + ``__torch_dispatch__``)
  whose metadata reports ``fakeacc:0`` and which holds an ordinary CPU tensor: every op runs
  on the CPU values and wraps the results again. As on CUDA, an op that mixes a fake tensor with
  a plain CPU tensor of ``ndim > 0`` raises ``RuntimeError: Expected all tensors to be on the
  same device`` (0-d CPU tensors and Python scalars are allowed, and so are CPU index tensors
  for indexing and cross-device ``copy_``); ``.numpy()`` (and so ``np.asarray``) raises until
  ``.cpu()`` is called; ``.item()``, ``float()`` and ``.tolist()`` work.
* Inside the context, a :class:`~torch.overrides.TorchFunctionMode` turns factory calls with
  ``device="fakeacc"`` (``torch.zeros``, ``randn``, ``full``, ``arange``, ``linspace``,
  ``empty``, ``tensor``, ``as_tensor``…) and ``.to("fakeacc")`` into fake tensors, and
  ``torch.Generator(device="fakeacc")`` returns a :class:`FakeGenerator`: a CPU generator
  inside whose ``.device`` says ``fakeacc``; drawing from it onto a CPU tensor, or from a CPU
  generator onto a fake tensor, raises as CUDA does. Its ``get_state()`` returns a 16-byte
  token, as a CUDA generator's state is 16 bytes (seed and Philox offset) where a CPU one's is
  5056, so a checkpoint written on the fake device is rejected by a CPU generator exactly as a
  CUDA-trained checkpoint is.

Limits: the fake backend must be registered (:func:`fake_device`) before the process's first
backward pass (the autograd engine sizes its device queues once), hence the call at import in
tests/test_device.py; forward-mode AD (``torch.func.jvp``) does not run on wrapper subclasses in
torch 2.13 (the bound's estimators use reverse mode only; :func:`reverse_jvp` is a double-vjp JVP for other code);
``torch.save`` writes a fake tensor as a CPU tensor (``map_location`` is not exercised). The values are computed on the CPU, so numerics are CPU numerics (no TF32, no
non-deterministic kernels); ops that CUDA forbids for other reasons (e.g. unsupported dtypes,
pinned memory, streams) are not simulated; ``torch.cuda.*`` calls are not intercepted (code
that tests ``device.type == "cuda"`` sees ``"fakeacc"``); sparse and complex tensors are not
covered; the mode must be active while fake tensors are created and used.
"""
from __future__ import annotations

import contextlib
import functools
import itertools

import torch
import torch.utils._pytree as pytree
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import return_and_correct_aliasing

NAME = "fakeacc"


@functools.lru_cache(maxsize=None)
def _register() -> torch.device:
    """Rename PrivateUse1 to ``fakeacc`` and give it the dummy hooks and device guard (once per process)."""
    from torch.utils import backend_registration as br

    current = torch._C._get_privateuse1_backend_name()
    if current == NAME:
        return torch.device(NAME, 0)
    if current != "privateuseone":
        raise RuntimeError(f"PrivateUse1 is already renamed to {current!r}; the fake accelerator needs it")
    br._setup_privateuseone_for_python_backend(rename=NAME)
    # factories that reach the backend without a tensor argument (e.g. the zero tangents of
    # torch.func.jvp) get CPU values wrapped as fake tensors
    lib = torch.library.Library("aten", "IMPL")
    for op in ("_efficientzerotensor", "empty.memory_format", "empty_strided"):
        lib.impl(op, _backend_factory(getattr(torch.ops.aten, op.split(".")[0]).__getattr__(op.split(".")[1] if "." in op else "default")),
                 "PrivateUse1")
    _LIBS.append(lib)
    return torch.device(NAME, 0)


_LIBS: list = []


def _backend_factory(op):
    def impl(*args, **kwargs):
        kwargs["device"] = torch.device("cpu")
        return FakeTensor(op(*args, **kwargs))

    return impl


def fake_device() -> torch.device:
    return _register()


def _is_fake_device(dev) -> bool:
    if dev is None:
        return False
    if isinstance(dev, torch.device):
        return dev.type == NAME
    if isinstance(dev, str):
        return dev.split(":")[0] == NAME
    return False


def _same_device_error(a, b):
    return RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, {a} and {b}!")


class FakeTensor(torch.Tensor):
    """A tensor on ``fakeacc:0`` holding real CPU values in ``.inner``."""

    @staticmethod
    def __new__(cls, inner: torch.Tensor, requires_grad: bool = False):
        assert type(inner) is torch.Tensor and inner.device.type == "cpu", type(inner)
        return torch.Tensor._make_wrapper_subclass(
            cls, inner.size(), strides=inner.stride(), storage_offset=inner.storage_offset(), dtype=inner.dtype,
            layout=inner.layout, device=fake_device(), requires_grad=requires_grad)

    def __init__(self, inner: torch.Tensor, requires_grad: bool = False):
        self.inner = inner

    def __repr__(self, *, tensor_contents=None):
        return f"FakeTensor({self.inner!r}, device='{NAME}:0')"

    def __reduce_ex__(self, proto):
        # torch.save writes the CPU values (a CUDA tensor is written with its location and mapped back
        # by torch.load's map_location; here the file simply holds CPU tensors)
        return self.inner.detach().__reduce_ex__(proto)

    def __tensor_flatten__(self):
        return ["inner"], None

    @staticmethod
    def __tensor_unflatten__(inner_tensors, meta, outer_size, outer_stride):
        return FakeTensor(inner_tensors["inner"])

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in (torch.Tensor.numpy, torch.Tensor.__array__):
            raise TypeError(f"can't convert {NAME}:0 device type tensor to numpy. Use Tensor.cpu() to copy the tensor to host memory first.")
        if func is torch.Tensor.tolist:
            return args[0].inner.tolist()
        with torch._C.DisableTorchFunctionSubclass():  # no conversion of the results to FakeTensor: dispatch decides
            return func(*args, **kwargs)

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        flat = pytree.tree_leaves((args, kwargs))
        fakes = [a for a in flat if isinstance(a, FakeTensor)]
        cpu = [a for a in flat if type(a) is torch.Tensor and a.ndim > 0 and a.device.type == "cpu"]
        name = func.overloadpacket.__name__
        if name in ("copy_",):  # cross-device copies are legal
            dst, src = args[0], args[1]
            s = src.inner if isinstance(src, FakeTensor) else src
            d = dst.inner if isinstance(dst, FakeTensor) else dst
            d.copy_(s, *args[2:], **kwargs)
            return dst
        if name in ("index", "index_put", "index_put_", "_index_put_impl_") and len(args) > 1:
            # CUDA accepts CPU index tensors for indexing
            idx = set(map(id, pytree.tree_leaves(args[1])))
            cpu = [a for a in cpu if id(a) not in idx]
        if fakes and cpu:
            raise _same_device_error(f"{NAME}:0", "cpu")
        dev = kwargs.get("device")
        if "device" in kwargs:
            if _is_fake_device(dev):
                kwargs["device"] = torch.device("cpu")
                wrap = True
            else:
                wrap = dev is None and bool(fakes)
        else:
            wrap = bool(fakes)
        u_args, u_kwargs = pytree.tree_map_only(FakeTensor, lambda t: t.inner, (args, kwargs))
        out = func(*u_args, **u_kwargs)
        if not wrap:
            return out
        out = pytree.tree_map_only(torch.Tensor, lambda t: FakeTensor(t) if type(t) is torch.Tensor else t, out)
        return return_and_correct_aliasing(func, args, kwargs, out)


class FakeGenerator(torch.Generator):
    """``torch.Generator(device="fakeacc")``: a CPU generator inside, reporting the fake device.

    ``get_state()`` returns a 16-byte token (the size of a CUDA generator's state), which only
    another :class:`FakeGenerator` accepts; a plain CPU generator rejects it as it rejects a CUDA one.
    """

    _states: dict = {}
    _ids = itertools.count(1)

    @property
    def device(self):
        return fake_device()

    def get_state(self):
        token = next(FakeGenerator._ids)
        FakeGenerator._states[token] = super().get_state()
        return torch.tensor(list(token.to_bytes(8, "little")) + [0] * 8, dtype=torch.uint8)

    def set_state(self, state):
        if not (torch.is_tensor(state) and state.dtype == torch.uint8 and state.numel() == 16):
            raise RuntimeError(f"RNG state is wrong size: expected 16 bytes, got {getattr(state, 'numel', lambda: '?')()}")
        token = int.from_bytes(bytes(state[:8].tolist()), "little")
        super().set_state(FakeGenerator._states[token])
        return self


_REAL_GENERATOR = torch.Generator


class _GeneratorMeta(type(torch._C.Generator)):
    def __instancecheck__(cls, obj):
        return isinstance(obj, torch._C.Generator)

    def __subclasscheck__(cls, sub):
        return issubclass(sub, torch._C.Generator)


class _PatchedGenerator(torch._C.Generator, metaclass=_GeneratorMeta):
    """Stands in for ``torch.Generator`` under :func:`fake_accelerator`: ``device="fakeacc"`` gives a
    :class:`FakeGenerator`, anything else a real generator."""

    def __new__(cls, device=None):
        if _is_fake_device(device):
            return FakeGenerator()
        return _REAL_GENERATOR(device) if device is not None else _REAL_GENERATOR()


def _gen_device(g):
    return g.device if g is not None else None


_FACTORIES = {torch.zeros, torch.ones, torch.empty, torch.full, torch.randn, torch.rand, torch.randint, torch.randperm,
              torch.arange, torch.linspace, torch.logspace, torch.eye, torch.tensor, torch.as_tensor, torch.zeros_like,
              torch.ones_like, torch.empty_like, torch.full_like, torch.randn_like, torch.rand_like, torch.randint_like,
              torch.normal, torch.scalar_tensor}


class _FakeMode(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        gen = kwargs.get("generator")
        if gen is not None:  # a generator must live on the device it draws on (as with CUDA)
            target = kwargs.get("device")
            if target is None:
                like = next((a for a in pytree.tree_leaves(args) if torch.is_tensor(a)), None)
                target = like.device if like is not None and func not in _FACTORIES - {torch.zeros_like, torch.ones_like, torch.empty_like,
                                                                                       torch.full_like, torch.randn_like,
                                                                                       torch.rand_like, torch.randint_like} else torch.device("cpu")
            gdev_fake, tdev_fake = isinstance(gen, FakeGenerator), _is_fake_device(target)
            if gdev_fake != tdev_fake:
                raise RuntimeError(f"Expected a '{torch.device(target).type if not isinstance(target, torch.device) else target.type}' "
                                   f"device type for generator but found '{gen.device.type}'")
        if func in _FACTORIES and _is_fake_device(kwargs.get("device")):
            kwargs["device"] = torch.device("cpu")
            with torch._C.DisableTorchFunctionSubclass():
                out = func(*args, **kwargs)
            if isinstance(out, FakeTensor):
                return out
            return FakeTensor(out.detach(), requires_grad=out.requires_grad) if out.requires_grad else FakeTensor(out)
        if func is torch.Tensor.to:
            dev, dtype, non_blocking, memory_format = torch._C._nn._parse_to(*args[1:], **kwargs)
            if _is_fake_device(dev):
                src = args[0]
                kw = {"dtype": dtype} if dtype is not None else {}
                if memory_format is not None:
                    kw["memory_format"] = memory_format
                if isinstance(src, FakeTensor):
                    return src.to(**kw) if kw else src
                return _to_fake(src.to(**kw) if kw else src)
        return func(*args, **kwargs)


def _to_fake(t: torch.Tensor) -> torch.Tensor:
    """A fake copy of the CPU tensor ``t`` that autograd sees as ``t.to(fakeacc)``."""
    if t.requires_grad:
        return _ToFake.apply(t)
    return FakeTensor(t.detach())


class _ToFake(torch.autograd.Function):
    @staticmethod
    def forward(ctx, t):
        return FakeTensor(t.detach())

    @staticmethod
    def backward(ctx, g):
        return g.inner if isinstance(g, FakeTensor) else g


@contextlib.contextmanager
def fake_accelerator():
    """Within the block, ``torch.device("fakeacc")`` behaves as an accelerator (module docstring).
    Yields the device."""
    dev = fake_device()
    torch.Generator = _PatchedGenerator
    try:
        with _FakeMode():
            yield dev
    finally:
        torch.Generator = _REAL_GENERATOR


def reverse_jvp(func, primals, tangents):
    """``torch.func.jvp`` by reverse mode (the double-vjp trick), for fake tensors: forward-mode AD
    (``torch.func.jvp``, ``torch.autograd.forward_ad``) does not run on Python wrapper subclasses in
    torch 2.13 (a segfault or "data is not allocated"). Nested calls compose (``create_graph``)."""
    ps = tuple(p if p.requires_grad else p.detach().requires_grad_(True) for p in primals)
    with torch.enable_grad():
        out = func(*ps)
        u = torch.zeros_like(out, requires_grad=True)
        g = torch.autograd.grad(out, ps, u, create_graph=True, allow_unused=True)
        g = [gi if gi is not None else torch.zeros_like(p) for gi, p in zip(g, ps)]
        jv = torch.autograd.grad(g, u, tangents, create_graph=True, allow_unused=True)[0]
    if jv is None:
        jv = torch.zeros_like(out)
    return out, jv
