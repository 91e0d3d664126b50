"""The root of every task: holds the config and names the config class the TOML loader builds."""

from typing import ClassVar


class BaseTask[ConfigT]:
    """Base of all mixins. Subclasses set ``config_class`` to their config dataclass."""

    config_class: ClassVar[type]

    def __init__(self, config: ConfigT) -> None:
        """Stores the resolved config."""
        self.config = config
