package io.fluxgate.changes.delivery;

import java.time.Instant;
import java.util.List;
import java.util.Set;

import io.fluxgate.changes.hub.ChangeEvent;
import io.fluxgate.changes.hub.Channels;
import io.fluxgate.changes.hub.Position;
import io.fluxgate.security.Caller;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

import static io.fluxgate.changes.delivery.DeliveryRule.Outcome.ALREADY_SENT;
import static io.fluxgate.changes.delivery.DeliveryRule.Outcome.BEFORE_START;
import static io.fluxgate.changes.delivery.DeliveryRule.Outcome.DELIVERED;
import static io.fluxgate.changes.delivery.DeliveryRule.Outcome.FILTERED_OUT;
import static io.fluxgate.changes.delivery.DeliveryRule.Outcome.NOT_ALLOWED;
import static io.fluxgate.changes.delivery.DeliveryRule.Outcome.NOT_SUBSCRIBED;
import static io.fluxgate.changes.delivery.Ledger.Pass.LIVE;
import static io.fluxgate.changes.delivery.Ledger.Pass.REPLAY;
import static org.assertj.core.api.Assertions.assertThat;

/** The delivery rule and the ledger on their own: plain values in, a verdict out. */
class DeliveryRuleTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final Caller USER = new Caller(7, false, 1, Instant.now().plusSeconds(3600));
    private static final Caller ADMIN = new Caller(1, true, 1, Instant.now().plusSeconds(3600));

    static ChangeEvent post(long seq, long authorId, String title) {
        ObjectNode data = JSON.createObjectNode().put("id", seq).put("authorId", authorId).put("title", title);
        return new ChangeEvent(at(seq), Channels.POSTS, "posts", "INSERT", data, new long[] {authorId},
                Instant.now(), at(seq).toCursor(), new byte[0]);
    }

    static ChangeEvent account(long seq, long userId) {
        ObjectNode data = JSON.createObjectNode().put("id", seq).put("userId", userId).put("balance", "1.00");
        return new ChangeEvent(at(seq), Channels.ACCOUNTS, "accounts", "UPDATE", data, new long[] {userId},
                Instant.now(), at(seq).toCursor(), new byte[0]);
    }

    static Position at(long seq) {
        return new Position(seq, seq);
    }

    private static Subscription subscription(String id, String channel, String filter, Set<String> columns) {
        RowFilter compiled = filter == null ? null : RowFilter.compile(JSON.readTree(filter), Channels.fields(channel));
        return new Subscription(id, true, channel, compiled, columns);
    }

    private static DeliveryRule.Subscribed subscribed(Subscription subscription, long start) {
        return new DeliveryRule.Subscribed(subscription, new Ledger.Range(at(start)));
    }

    @Test
    void eachReasonIsTold() {
        DeliveryRule.Subscribed posts = subscribed(subscription("a", Channels.POSTS, "{\"authorId\":{\"eq\":3}}", null), 10);
        DeliveryRule.Subscribed accounts = subscribed(subscription("b", Channels.ACCOUNTS, null, null), 10);

        assertThat(DeliveryRule.judge(USER, posts, post(11, 3, "x"), LIVE)).isEqualTo(DELIVERED);
        assertThat(DeliveryRule.judge(USER, posts, post(11, 4, "x"), LIVE)).isEqualTo(FILTERED_OUT);
        assertThat(DeliveryRule.judge(USER, posts, account(11, 7), LIVE)).isEqualTo(NOT_SUBSCRIBED);
        assertThat(DeliveryRule.judge(USER, accounts, account(11, 8), LIVE)).isEqualTo(NOT_ALLOWED);
        assertThat(DeliveryRule.judge(ADMIN, accounts, account(11, 8), LIVE)).isEqualTo(DELIVERED);
        assertThat(DeliveryRule.judge(USER, posts, post(10, 3, "x"), LIVE)).isEqualTo(BEFORE_START);
        posts.range().advance(at(12));
        assertThat(DeliveryRule.judge(USER, posts, post(12, 3, "x"), LIVE)).isEqualTo(ALREADY_SENT);
        assertThat(DeliveryRule.judge(USER, posts, post(13, 3, "x"), LIVE)).isEqualTo(DELIVERED);
    }

    @Test
    void aReplayOwesWhatLiesOutsideTheRangeAndThenHoldsIt() {
        Ledger.Range range = new Ledger.Range(at(10));
        range.advance(at(20));
        assertThat(range.owes(at(5), REPLAY)).isTrue();
        assertThat(range.owes(at(5), LIVE)).isFalse();
        assertThat(range.owes(at(15), REPLAY)).isFalse();
        assertThat(range.owes(at(21), LIVE)).isTrue();
        range.cover(at(3), at(25));
        assertThat(range.from()).isEqualTo(at(3));
        assertThat(range.through()).isEqualTo(at(25));
        assertThat(range.owes(at(4), REPLAY)).isFalse();
        assertThat(range.owes(at(3), REPLAY)).isTrue();
        // A cursor ahead of the range: the gap before it is the client's by its own word.
        range.cover(at(40), at(50));
        assertThat(range.owes(at(30), LIVE)).isFalse();
        assertThat(range.owes(at(30), REPLAY)).isFalse();
    }

    @Test
    void oneFrameNamesEverySubscriptionThatTakesItWithTheUnionOfTheirColumns() {
        DeliveryRule.Subscribed titles = subscribed(subscription("t", Channels.POSTS, null, Set.of("id", "title")), 10);
        DeliveryRule.Subscribed authors = subscribed(subscription("u", Channels.POSTS, null, Set.of("id", "authorId")), 10);
        Delivery delivery = DeliveryRule.decide(USER, List.of(titles, authors), null, post(11, 3, "x"), LIVE);
        assertThat(delivery.ids()).containsExactly("t", "u");
        assertThat(delivery.columns()).containsExactlyInAnyOrder("id", "title", "authorId");
    }

    @Test
    void aRelatedEventGoesWholeOnlyWhenNoSubscriptionTookOrAccountedForIt() {
        Ledger.Range related = new Ledger.Range(at(10));
        DeliveryRule.Subscribed others = subscribed(subscription("o", Channels.POSTS, "{\"authorId\":{\"eq\":3}}", null), 10);
        Delivery whole = DeliveryRule.decide(USER, List.of(others), related, post(11, 7, "mine"), LIVE);
        assertThat(whole.whole()).isTrue();
        assertThat(whole.columns()).isNull();

        DeliveryRule.Subscribed mine = subscribed(subscription("m", Channels.POSTS, "{\"authorId\":{\"eq\":7}}", null), 10);
        mine.range().advance(at(12)); // a snapshot reflected it
        assertThat(DeliveryRule.decide(USER, List.of(mine), related, post(12, 7, "mine"), LIVE)).isNull();
        // Committed before the subscription started, after the session did: the related stream owes it.
        DeliveryRule.Subscribed late = subscribed(subscription("l", Channels.POSTS, null, null), 20);
        assertThat(DeliveryRule.decide(USER, List.of(late), related, post(15, 7, "mine"), LIVE).whole()).isTrue();
        // Before the session started: nobody owes it live.
        assertThat(DeliveryRule.decide(USER, List.of(), related, post(9, 7, "mine"), LIVE)).isNull();
    }

    @Test
    void aLiveOnlyEventHasNoLedger() {
        ObjectNode data = JSON.createObjectNode().put("id", "p1").put("ownerId", 7);
        ChangeEvent profile = new ChangeEvent(null, Channels.PROFILES, "profiles", "UPDATE", data, new long[0],
                Instant.now(), null, new byte[0]);
        DeliveryRule.Subscribed profiles = new DeliveryRule.Subscribed(
                subscription("p", Channels.PROFILES, null, null), null);
        assertThat(DeliveryRule.judge(USER, profiles, profile, LIVE)).isEqualTo(DELIVERED);
    }

    @Test
    void aSessionSendsAPlainSubscriptionNothingFromBeforeItsStart() {
        SessionState state = new SessionState(USER, at(10));
        state.add(subscription("s", Channels.POSTS, null, null), at(20));
        // Events between the session's start and the subscription's, still on their way to it.
        assertThat(state.live(post(15, 3, "old"))).isNull();
        assertThat(state.live(post(21, 3, "new")).ids()).containsExactly("s");
        assertThat(state.live(post(21, 3, "new"))).as("a repeat").isNull();
    }

    @Test
    void aResumeSendsWhatTheSessionHasNotAndLiveSkipsWhatItRead() {
        SessionState state = new SessionState(USER, at(10));
        Subscription everything = subscription("e", Channels.POSTS, null, null);
        state.add(everything, at(10));
        assertThat(state.live(post(11, 7, "mine")).ids()).containsExactly("e");
        // A second subscription resumes from before the session: its own copy of 11, and 5.
        Subscription again = subscription("r", Channels.POSTS, null, null);
        state.add(again, at(14));
        SessionState.Replay replay = state.replay(again, at(4), at(14));
        assertThat(replay.next(post(5, 7, "before")).ids()).containsExactly("r");
        assertThat(replay.next(post(11, 7, "mine")).ids()).containsExactly("r");
        assertThat(replay.next(post(12, 3, "theirs")).ids()).containsExactly("r");
        replay.finish();
        // The feed's copy of 12 arrives after: "e" still owes it, "r" read it already.
        assertThat(state.live(post(12, 3, "theirs")).ids()).containsExactly("e");
        assertThat(state.live(post(15, 3, "next")).ids()).containsExactly("e", "r");
    }
}
