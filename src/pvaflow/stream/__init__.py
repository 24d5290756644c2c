"""The streaming core: receive -> queue -> host (processor) -> publish, with status and control."""
