package io.fluxgate.changes.delivery;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
import reactor.test.StepVerifier;

import static org.assertj.core.api.Assertions.assertThat;

/** The replica's snapshot slots: a user's share, a fair queue, and slots that always come back. */
class SnapshotSlotsTest {

    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final long HOG = 1;
    private static final long OTHER = 2;
    private static final long THIRD = 3;

    private final SnapshotSlots slots = new SnapshotSlots(4, 1, 8, Duration.ofSeconds(5));

    @Test
    void aUserHoldsAtMostItsShareAndOthersStartAtOnce() {
        SnapshotSlots.Slot hogs = slots.acquire(HOG).block(WAIT);
        List<SnapshotSlots.Slot> waiting = new ArrayList<>();
        Disposable second = slots.acquire(HOG).subscribe(waiting::add);
        assertThat(waiting).as("the hog's second waits").isEmpty();
        SnapshotSlots.Slot others = slots.acquire(OTHER).block(WAIT);
        assertThat(slots.running()).isEqualTo(2);
        hogs.release();
        assertThat(waiting).as("its own slot back: the hog's next starts").hasSize(1);
        waiting.get(0).release();
        others.release();
        second.dispose();
        assertThat(slots.running()).isZero();
    }

    @Test
    void aFreedSlotGoesToTheWaiterHoldingFewest() {
        SnapshotSlots two = new SnapshotSlots(2, 2, 8, Duration.ofSeconds(5));
        SnapshotSlots.Slot a = two.acquire(HOG).block(WAIT);
        two.acquire(HOG).block(WAIT);
        List<Long> granted = new ArrayList<>();
        two.acquire(HOG).subscribe(slot -> granted.add(HOG));
        two.acquire(OTHER).subscribe(slot -> granted.add(OTHER));
        a.release();
        assertThat(granted).as("the other user holds none, the hog one: the other goes first, though later")
                .containsExactly(OTHER);
    }

    @Test
    void aWaiterThatGivesUpIsRefusedAndLeavesNoSlotBehind() {
        SnapshotSlots one = new SnapshotSlots(1, 1, 8, Duration.ofMillis(200));
        SnapshotSlots.Slot held = one.acquire(HOG).block(WAIT);
        StepVerifier.create(one.acquire(OTHER)).expectError(SnapshotSlots.Unavailable.class).verify(WAIT);
        Disposable cancelled = one.acquire(THIRD).subscribe();
        cancelled.dispose();
        held.release();
        held.release(); // twice: counted once
        assertThat(one.running()).as("neither the refused nor the cancelled waiter kept a slot").isZero();
        one.acquire(OTHER).block(WAIT).release();
    }

    @Test
    void aUserWaitsWithNoMoreSnapshotsThanMayReadAtOnce() {
        SnapshotSlots two = new SnapshotSlots(2, 1, 100, Duration.ofSeconds(5));
        two.acquire(HOG).block(WAIT);
        two.acquire(OTHER).block(WAIT);
        two.acquire(HOG).subscribe();
        two.acquire(HOG).subscribe();
        StepVerifier.create(two.acquire(HOG)).expectError(SnapshotSlots.Unavailable.class).verify(WAIT);
        List<SnapshotSlots.Slot> third = new ArrayList<>();
        two.acquire(THIRD).subscribe(third::add);
        assertThat(third).as("another user still finds a place in the queue").isEmpty();
    }

    @Test
    void theQueueIsBounded() {
        SnapshotSlots one = new SnapshotSlots(1, 1, 2, Duration.ofSeconds(5));
        one.acquire(HOG).block(WAIT);
        one.acquire(OTHER).subscribe();
        one.acquire(THIRD).subscribe();
        StepVerifier.create(one.acquire(4)).expectError(SnapshotSlots.Unavailable.class).verify(WAIT);
    }
}
