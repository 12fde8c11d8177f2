"""The `segany` command line: a thin layer over the library, one module per subcommand.

    segany segment photo.jpg --point 200,150 --out out/
    segany everything photos/ --out masks/ --format coco
    segany embed photos/ --out embeddings/
    segany weights list | download NAME | verify PATH | path NAME
    segany info
    segany export onnx --model vit_b --out onnx/

Entry point: `segany.cli.main.main(argv) -> exit code`. Model choice lives in `segany.cli.models.resolve_model`.
"""
