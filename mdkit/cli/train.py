from __future__ import annotations

from mdkit.cli.common import FORCE, QUIET


class CLICommand:
    """train (or continue training) a specialist potential from a training spec

    Label configurations of the spec's systems with the teacher engine
    (Langevin MD at each temperature and seed, rattled copies, structure
    files), split them by trajectory, train a MACE student with mace-torch's
    own trainer and write its model card (held-out errors, speed, and the
    physics checks against the teacher a [card] table names), printed at the
    end as a markdown table.  Run it again after an interruption: it
    continues where it stopped.
    """

    parents = (QUIET, FORCE)

    @staticmethod
    def add_arguments(parser):
        parser.add_argument("spec", help="training spec (TOML), e.g. runs/train_ag_family.toml")

    @staticmethod
    def run(args):
        import json

        from mdkit.training import load_train_spec, train
        from mdkit.trust import card_markdown

        spec = load_train_spec(args.spec)
        folder = train(spec, progress=False if args.quiet else None, force=args.force)
        print(f"mdkit train: {folder} (model {folder / 'student.model'}, card "
              f"{folder / 'card.json'})")
        print(card_markdown(json.loads((folder / "card.json").read_text())))
