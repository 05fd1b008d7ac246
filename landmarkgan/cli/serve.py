"""``landmarkgan serve``: the web page, on http://127.0.0.1:7860 by default."""

from __future__ import annotations

import argparse

from landmarkgan.cli import add_detector_argument, add_model_arguments, add_refinement_argument


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve",
        help="start the web page: pick or upload a face, choose an expression, see and download the result",
        description="Serve the translation page with uvicorn. Open the printed address in a browser.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    add_model_arguments(p)
    add_detector_argument(p)
    add_refinement_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from landmarkgan.app.server import create_app
    from landmarkgan.inference.pipeline import LandmarkGANPipeline

    app = create_app(LandmarkGANPipeline.from_pretrained(args.model, device=args.device, detector=args.detector,
                                                         task="expression", refinement=args.refinement,
                                                         refinement_area=args.refinement_area))
    print(f"LandmarkGAN page: http://{args.host}:{args.port}/  (Ctrl-C stops it)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
