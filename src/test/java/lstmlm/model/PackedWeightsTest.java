package lstmlm.model;

import lstmlm.modelfile.ModelShape;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

/**
 * Evaluation keeps W_rec packed across windows while the weights stay the same, and repacks
 * after any change: an update, or a direct write announced with {@code parametersChanged()}.
 * The loss must always be that of a fresh model holding the same weights, to the bit.
 */
class PackedWeightsTest {
    private static final ModelShape SHAPE = new ModelShape(13, 100, 2);

    @Test
    void evaluationFollowsEveryChangeOfTheWeights() {
        SplittableRandom random = new SplittableRandom(3);
        int[] inputs = new int[2 * 3], targets = new int[2 * 3];
        GradientCheckTest.fillIds(random, inputs, 13);
        GradientCheckTest.fillIds(random, targets, 13);
        try (Engine e = new Engine(SHAPE, 2)) {
            LanguageModel m = e.model();
            Window w = e.newWindow(2, 3, DropoutPlan.NONE);
            m.initialize(1, 0.3f);
            double first = eval(e, w, inputs, targets);
            assertEquals(first, eval(e, w, inputs, targets), 0, "same weights, same loss");
            assertEquals(freshModelLoss(m, inputs, targets), first, 0);

            // a direct write to the recurrent weight, announced
            long wRec = m.layout.recurrentWeight(1);
            for (long i = 0; i < (long) SHAPE.hidden() * SHAPE.gates(); i++) {
                m.params.setAtIndex(JAVA_FLOAT, wRec + i, m.params.getAtIndex(JAVA_FLOAT, wRec + i) * 1.5f);
            }
            m.parametersChanged();
            double afterWrite = eval(e, w, inputs, targets);
            assertNotEquals(first, afterWrite);
            assertEquals(freshModelLoss(m, inputs, targets), afterWrite, 0);

            // a training update
            Window tw = e.newWindow(2, 3, DropoutPlan.NONE);
            System.arraycopy(inputs, 0, tw.inputs, 0, inputs.length);
            System.arraycopy(targets, 0, tw.targets, 0, targets.length);
            e.trainWindow(tw, 1f, 1);
            e.update(1f, 5f);
            double afterUpdate = eval(e, w, inputs, targets);
            assertNotEquals(afterWrite, afterUpdate);
            assertEquals(freshModelLoss(m, inputs, targets), afterUpdate, 0);
        }
    }

    private static double eval(Engine e, Window w, int[] inputs, int[] targets) {
        System.arraycopy(inputs, 0, w.inputs, 0, inputs.length);
        System.arraycopy(targets, 0, w.targets, 0, targets.length);
        w.resetState();
        return e.evalWindow(w);
    }

    private static double freshModelLoss(LanguageModel source, int[] inputs, int[] targets) {
        try (Engine e = new Engine(SHAPE, 2)) {
            LanguageModel m = e.model();
            MemorySegment.copy(source.params, 0, m.params, 0, m.params.byteSize());
            m.parametersChanged();
            return eval(e, e.newWindow(2, 3, DropoutPlan.NONE), inputs, targets);
        }
    }
}
