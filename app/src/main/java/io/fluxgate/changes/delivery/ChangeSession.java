package io.fluxgate.changes.delivery;

import java.time.Instant;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicLong;

import io.fluxgate.changes.ChangeStreamMetrics;
import io.fluxgate.changes.hub.ChangeEvent;
import io.fluxgate.changes.hub.ChangeFrames;
import io.fluxgate.changes.hub.LiveChangeSource;
import io.fluxgate.changes.hub.Position;
import io.fluxgate.security.Caller;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;

/**
 * One client's change-stream protocol, whatever carries it (WebSocket or SSE): subscriptions,
 * resumes, snapshots and token refresh, in one serial step.
 *
 * <p>Everything it reacts to is one {@link SessionInput}, handled one at a time. Which frame an event
 * becomes, and whether it was sent already, is its {@link SessionState}'s to say (the delivery rule
 * and the ledger); this class reads the log and snapshots for it and turns deliveries into frames.
 * Where live events come from, and how a slow client catches up, is its {@link ChangeFeed}'s business.
 */
public final class ChangeSession {

    private static final Logger log = LoggerFactory.getLogger(ChangeSession.class);

    static final Outbound.Close TOKEN_EXPIRED = new Outbound.Close(4001, "token expired");
    static final Outbound.Close ACCESS_REVOKED = new Outbound.Close(4003, "access revoked");
    static final Outbound.Close RESUME_FAILED = new Outbound.Close(1011, "resume failed; reconnect");

    /** What the factory hands every session. */
    public record Context(ChangeFeed feed, SnapshotReader snapshots, ChangeFrames frames, ChangeStreamMetrics metrics,
            List<LiveChangeSource> liveSources, Authority authority, int maxSubscriptions) {
    }

    private static final AtomicLong IDS = new AtomicLong();
    /** Events and live-only inputs that may wait for the serial step, beyond the feed's own buffer. */
    private static final int INPUTS_AHEAD = 32;

    private final long id = IDS.incrementAndGet();
    private final String transport;
    private final Instant connectedAt = Instant.now();
    private final Context context;
    private final ChangeFrames frames;
    private final Executor executor;
    private final Interest interest;
    /** The token it opened with, until it runs; then its state holds the current one. */
    private final Caller opened;
    /** Its subscriptions and ledger; set when it runs. Read by the inspector from other threads. */
    private volatile SessionState state;
    /** Its resumes and snapshots; set when it runs. */
    private SessionReads reads;
    /** Its subscribes and unsubscribes; set when it runs. */
    private SubscriptionCommands commands;
    /** A resume or snapshot is being read for this session (its feed's catch-ups are the feed's to tell). */
    private volatile boolean readingLog;
    /** Why the session must end (expiry, revocation, shutdown): set from outside the serial step. */
    private volatile Outbound.Close endedWith;
    /** Where its inputs are handled one at a time; set when it runs. */
    private volatile SerialStep step;
    /** Live-only channels subscribed to, and their events. */
    private final LiveChannels liveChannels;
    /** Commit to handling, in ms, of the last event this session handled (live or replayed); for the inspector. */
    private volatile long lastLagMs;
    /** Where live events may go at once when nothing waits; null: always through the serial step. */
    private DirectWriter direct;
    private volatile boolean ended;

    /**
     * @param executor where this session's events are handed over: its socket's event loop, or null
     *        to take them on whatever thread delivers them
     */
    public ChangeSession(Caller caller, String transport, Context context, Executor executor) {
        this.opened = caller;
        this.transport = transport;
        this.context = context;
        this.frames = context.frames();
        this.executor = executor;
        this.interest = new Interest(Interest.logFilterFor(caller));
        this.liveChannels = new LiveChannels(context.liveSources(), context.metrics());
    }

    /**
     * Live events go straight to {@code writer} while the serial step has nothing to do (see
     * {@link #deliverNow}). Set before the session runs; the writer must run on the session's executor.
     */
    public void writeDirectlyTo(DirectWriter writer) {
        this.direct = writer;
    }

    /** Frames for the client until it goes away or the session is ended; {@code inbound} are its messages. */
    public Flux<Outbound> run(Flux<ClientMessage> inbound) {
        return Flux.defer(() -> {
            Position start = context.feed().head();
            state = new SessionState(opened, start);
            commands = new SubscriptionCommands(state, interest, liveChannels, context, this::whileReadingLog);
            reads = new SessionReads(context, state, commands::drop, this::handled);
            commands.readWith(reads);
            interest.set(Interest.routeFor(caller(), List.of()));
            if (direct != null) {
                interest.express(this::deliverNow);
            }
            // Messages one at a time (the socket reads one ahead); events up to a small batch, as the
            // feed's own buffer bounds what waits before it.
            SerialStep serial = new SerialStep(List.of(
                    new SerialStep.Source(inbound, 1),
                    new SerialStep.Source(context.feed().from(start, interest, executor).map(SessionInput.Change::new),
                            INPUTS_AHEAD),
                    new SerialStep.Source(liveChannels.inputs(executor), INPUTS_AHEAD)),
                    this::handleGuarded, () -> ended = true);
            step = serial;
            // An end (revocation, expiry, shutdown) does not queue behind the client's requests: it
            // cuts the serial step short, whatever it is doing (a snapshot, a replay), and closes.
            Outbound.Close early = endedWith;
            if (early != null) {
                serial.end(early);
            }
            return serial;
        });
    }

    /**
     * A live event taken at once, on the session's event loop, when the serial step has nothing
     * waiting or running and the socket has room: the same state and rule, without the hand-offs.
     * Otherwise false, and the feed buffers it for the serial step.
     */
    private boolean deliverNow(ChangeEvent event) {
        DirectWriter writer = direct;
        SerialStep serial = step;
        // Inputs waiting or being handled go first: live events wait their turn behind them.
        if (ended || serial == null || !serial.idle() || !writer.ready()) {
            return false;
        }
        handled(event);
        Delivery delivery = state.live(event);
        if (delivery != null) {
            writer.write(delivery.frame(frames));
            context.metrics().framesDirect.increment();
        }
        return true;
    }

    public Caller caller() {
        SessionState current = state;
        return current == null ? opened : current.caller();
    }

    public String id() {
        return Long.toString(id);
    }

    public long number() {
        return id;
    }

    public Instant connectedAt() {
        return connectedAt;
    }

    /** Its subscriptions and ledger; null until it runs. Read from other threads (the inspector). */
    public SessionState state() {
        return state;
    }

    /** "websocket" or "sse". */
    public String transport() {
        return transport;
    }

    /** Live events waiting in its feed's buffer now. */
    public int bufferedEvents() {
        return interest.buffered();
    }

    /** Whether it is reading the log or catching up (off the live path). */
    public boolean replaying() {
        return readingLog || interest.catchingUp();
    }

    /** Commit to handling, in ms, of the last event it handled; read racily (a monitoring view). */
    public long lagMs() {
        return Math.max(0, lastLagMs);
    }

    /** Notes how long after its commit the session handled {@code event} (the inspector shows it). */
    private void handled(ChangeEvent event) {
        if (event.committedAt() != null) {
            lastLagMs = System.currentTimeMillis() - event.committedAt().toEpochMilli();
        }
    }

    /** Ends the session with {@code close} at once, whatever its serial step is doing. */
    void end(Outbound.Close close) {
        ended = true;
        if (endedWith == null) {
            endedWith = close;
        }
        SerialStep serial = step;
        if (serial != null) {
            serial.end(close);
        }
    }

    /** Ends the session, unless its token was replaced since {@code judged} was checked. */
    void endIf(Caller judged, Outbound.Close close) {
        if (caller() == judged) {
            end(close);
        }
    }

    /**
     * A client's message that fails in a way nobody foresaw answers an error frame and the session
     * lives on: no input of a client ends its own session with a protocol error (or anyone else's).
     */
    private Flux<Outbound> handleGuarded(SessionInput input) {
        try {
            return handle(input);
        } catch (RuntimeException unforeseen) {
            if (!(input instanceof ClientMessage)) {
                throw unforeseen;
            }
            log.warn("Change session {}: a {} message could not be handled", id, input.getClass().getSimpleName(),
                    unforeseen);
            return error("Invalid message format", null, null);
        }
    }

    private Flux<Outbound> handle(SessionInput input) {
        if (input instanceof SessionInput.Change change) {
            handled(change.event());
            return framed(state.live(change.event()));
        }
        if (input instanceof ClientMessage.Subscribe subscribe) {
            return commands.subscribe(subscribe);
        }
        if (input instanceof ClientMessage.Unsubscribe unsubscribe) {
            return commands.unsubscribe(unsubscribe);
        }
        if (input instanceof ClientMessage.Ping) {
            return Flux.just(frames.pong());
        }
        if (input instanceof ClientMessage.Resume resume) {
            return whileReadingLog(reads.resumeAll(resume.cursor(), liveChannels.subscribed()));
        }
        if (input instanceof ClientMessage.Auth auth) {
            return TokenSwap.swap(context.authority(), frames, auth.token(), state.caller(), this::tokenSwapped);
        }
        if (input instanceof ClientMessage.Invalid invalid) {
            return Flux.just(frames.error(invalid.error(), null, null));
        }
        if (input instanceof SessionInput.LiveDropped dropped) {
            return liveChannels.contains(dropped.channel()) ? resync(dropped.channel()) : Flux.empty();
        }
        return Flux.empty();
    }

    /** A delivery as its frame; nothing for none. */
    private Flux<Outbound> framed(Delivery delivery) {
        return delivery == null ? Flux.empty() : Flux.just(delivery.frame(frames));
    }

    /** Marks the session as replaying while {@code reading} runs (the inspector shows it). */
    private Flux<Outbound> whileReadingLog(Flux<Outbound> reading) {
        return reading.doFirst(() -> readingLog = true).doFinally(signal -> readingLog = false);
    }

    /** A fresh token of the same user took over: what it may see is judged by it from now on. */
    private void tokenSwapped(Caller next) {
        state.caller(next);
        interest.setLogFilter(Interest.logFilterFor(next));
        commands.changed();
    }

    // ---- frames

    private Flux<Outbound> resync(String channel) {
        return reads.resync(channel);
    }

    private Flux<Outbound> error(String error, String channel, String detail) {
        return Flux.just(frames.error(error, channel, detail));
    }
}
