// Ctrl-C during training: the first one lets the step in flight finish and a checkpoint be saved
// (the trainer polls `stopped`), a second one quits at once with 130.

export function stopOnCtrlC(): { stopped: () => boolean; dispose: () => void } {
  let stop = false;
  const onSigint = () => {
    if (stop) process.exit(130);
    stop = true;
    process.stderr.write("\nxlir: finishing this step and saving a checkpoint (Ctrl-C again to quit now)\n");
  };
  process.on("SIGINT", onSigint);
  return { stopped: () => stop, dispose: () => process.off("SIGINT", onSigint) };
}
