package lstmlm.cli;

import lstmlm.train.Trainer;
import sun.misc.Signal;
import sun.misc.SignalHandler;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;

/**
 * Ctrl-C (SIGINT) and SIGTERM while {@code train} runs: the first asks the trainer to stop where its
 * position is exact and checkpoint it ({@link Trainer#requestStop}); a second one exits at once
 * ({@code halt}, no hooks), which cannot damage the last checkpoint: every file is written to a temp
 * file and renamed, and the store removes stale temp files when it next opens. The handlers are the
 * command's, installed for the run only; the library never touches signals.
 */
final class StopOnSignal implements AutoCloseable {
    private final Trainer trainer;
    private final PrintStream err;
    private final List<Signal> signals = new ArrayList<>();
    private final List<SignalHandler> previous = new ArrayList<>();
    private volatile String received;
    private volatile Trainer.Phase phaseAtSignal;

    private StopOnSignal(Trainer trainer, PrintStream err) {
        this.trainer = trainer;
        this.err = err;
    }

    /**
     * Installs the handlers for {@code trainer} (SIGINT, SIGTERM); close restores the ones before.
     * {@code underMpirun} adds SIGUSR1, which Open MPI's mpirun forwards to every rank and
     * leaves at that, while its own SIGINT/SIGTERM handling aborts the job a second later
     * ({@code odls_base_sigkill_timeout}): {@code kill -USR1 <mpirun pid>} stops a distributed run
     * with a checkpoint.
     */
    static StopOnSignal install(Trainer trainer, PrintStream err, boolean underMpirun) {
        StopOnSignal s = new StopOnSignal(trainer, err);
        for (String name : underMpirun ? new String[]{"INT", "TERM", "USR1"} : new String[]{"INT", "TERM"}) {
            try {
                Signal signal = new Signal(name);
                s.previous.add(Signal.handle(signal, s::handle));
                s.signals.add(signal);
            } catch (IllegalArgumentException unavailable) {
                // a platform without this signal, or a JVM started with -Xrs: the default stays
            }
        }
        return s;
    }

    private void handle(Signal signal) {
        if (received != null) {
            err.println("\nSIG" + signal.getName() + " again: exiting now. The last checkpoint written is intact.");
            err.flush();
            Runtime.getRuntime().halt(128 + signal.getNumber());
        }
        received = signal.getName();
        phaseAtSignal = trainer.phase();
        err.println("\nSIG" + signal.getName() + ": stopping after the current " + what(phaseAtSignal)
                + " and writing a checkpoint; send it again to exit at once.");
        err.flush();
        trainer.requestStop();
    }

    private static String what(Trainer.Phase phase) {
        return switch (phase) {
            case TRAINING, IDLE -> "training window";
            case VALIDATING -> "validation window (the pass is repeated on resume)";
            case TESTING -> "test window (the test is repeated on resume)";
            case SAVING -> "checkpoint write";
        };
    }

    /** One word for what the run was doing. */
    static String label(Trainer.Phase phase) {
        return switch (phase) {
            case IDLE -> "start-up";
            case TRAINING -> "training";
            case VALIDATING -> "validation";
            case SAVING -> "saving";
            case TESTING -> "testing";
        };
    }

    /** The signal received ("INT", "TERM", "USR1"), or null. */
    String received() {
        return received;
    }

    /** What the run was doing when the signal came. */
    Trainer.Phase phaseAtSignal() {
        return phaseAtSignal;
    }

    /** The exit code a process killed by the received signal has: 128 + its number. */
    int exitCode() {
        return received == null ? 1 : 128 + new Signal(received).getNumber();
    }

    @Override
    public void close() {
        for (int i = 0; i < signals.size(); i++) Signal.handle(signals.get(i), previous.get(i));
    }
}
