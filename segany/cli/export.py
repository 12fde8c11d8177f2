"""`segany export onnx`: ONNX files for deployment (`segany.onnx.export_onnx`; contract in `segany.onnx.contract`).

The model is chosen as for every other command (`--model NAME|PATH`, default the best cached checkpoint).
Writes encoder.onnx, decoder.onnx (the official decoder contract), decoder_lowres.onnx, the cached decoder
pair (decoder_prep.onnx with decoder_lowrank.onnx or, for narrow decoders, decoder_dense.onnx) and
metadata.json, with `--quantize int8` also *.int8.onnx copies. Needs the `onnx` extra: pip install 'segany[onnx]'.
"""

from __future__ import annotations

import argparse
from typing import Any

from segany.cli.common import (
    CliError,
    add_model_options,
    add_quiet_option,
    note,
    output_dir,
    positive_int,
    settings_document,
    subcommand_parser,
    write_settings,
)

EXAMPLES = """
  segany export onnx --model vit_b --out onnx/vit_b
  segany export onnx --model vit_b --out onnx/vit_b_int8 --quantize int8
  segany export onnx --model my_finetune.pth --out onnx/mine --opset 17 --no-verify
"""

QUANTIZE_CHOICES = ("int8",)  # segany.onnx.quantize.QUANTIZATION_SCHEMES, checked again by the library
DECODER_FORMS = ("auto", "lowrank", "dense")  # segany.onnx.export.DECODER_FORMS, checked again by the library


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subcommand_parser(
        subparsers, "export", "export a model for deployment (ONNX)", __doc__ or "", EXAMPLES
    )
    formats = parser.add_subparsers(dest="export_format", metavar="FORMAT", required=True)
    onnx = formats.add_parser(
        "onnx",
        help="ONNX encoder + decoders",
        description=__doc__,
        epilog="examples:\n" + EXAMPLES.strip("\n"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    onnx.add_argument("--out", required=True, metavar="DIR", help="output folder")
    onnx.add_argument("--quantize", choices=QUANTIZE_CHOICES, default=None, help="also write int8 models")
    onnx.add_argument("--opset", type=positive_int, default=None, help="ONNX opset (default: the library's)")
    onnx.add_argument(
        "--return-single-mask",
        action="store_true",
        default=None,
        help="decoder.onnx outputs the best mask only",
    )
    onnx.add_argument("--no-encoder", action="store_true", default=None, help="export the decoders only")
    onnx.add_argument(
        "--no-verify", action="store_true", default=None, help="skip the ONNX Runtime vs torch check"
    )
    onnx.add_argument("--verify-image", metavar="FILE", default=None, help="photo for the ONNX Runtime check")
    onnx.add_argument(
        "--decoder-form",
        choices=DECODER_FORMS,
        default=None,
        help="form of the cached per-prompt decoder (default auto: the faster one for the model's width)",
    )
    add_model_options(onnx, device=False)
    add_quiet_option(onnx)
    onnx.set_defaults(run=run_onnx)
    return parser


def run_onnx(args: argparse.Namespace) -> int:
    try:
        import onnx  # noqa: F401

        from segany.onnx import export_onnx
    except ImportError as exc:
        raise CliError(
            f"ONNX export needs the onnx extra ({exc.name} is missing): pip install 'segany[onnx]'"
        ) from exc
    from segany.cli.models import resolve_model

    out = output_dir(args.out)
    sam, description = resolve_model(args.model, "cpu", args.arch)
    note(args, f"exporting {description} to {out}")
    options = {
        "opset": args.opset,
        "quantize": args.quantize,
        "return_single_mask": args.return_single_mask,
        "include_encoder": None if args.no_encoder is None else not args.no_encoder,
        "verify": None if args.no_verify is None else not args.no_verify,
        "verify_image": args.verify_image,
        "decoder_form": args.decoder_form,
    }
    given = {key: value for key, value in options.items() if value is not None}
    name = description.arch if description.source == "checkpoint" else description.spec
    result = export_onnx(sam, out, model_name=name, **given)
    write_settings(
        out, settings_document("export onnx", args, model=description.to_dict(), export_options=given)
    )
    for role, path in result.files.items():
        print(f"{role:<20} {path}")
    for key, value in result.verification.items():
        print(f"verify {key:<32} {value:.6g}")
    return 0
