package io.fluxgate.profiles;

import java.time.Duration;
import java.time.Instant;
import java.util.Map;

import com.mongodb.client.model.changestream.OperationType;
import io.fluxgate.changes.hub.ChangeEvent;
import io.fluxgate.changes.hub.ChangeFrames;
import io.fluxgate.changes.hub.Channels;
import io.fluxgate.changes.hub.LiveChangeSource;
import org.bson.Document;
import org.bson.types.ObjectId;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.util.retry.Retry;
import tools.jackson.databind.node.ObjectNode;

import org.springframework.context.SmartLifecycle;
import org.springframework.data.mongodb.core.ChangeStreamEvent;
import org.springframework.data.mongodb.core.ChangeStreamOptions;
import org.springframework.data.mongodb.core.ReactiveMongoTemplate;
import org.springframework.stereotype.Component;

/** MongoDB's change stream on {@code profiles}, as {@code profile_changes} events for change sessions. */
@Component
class ProfileChangeFeed implements LiveChangeSource, SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(ProfileChangeFeed.class);

    private final ReactiveMongoTemplate mongo;
    private final ChangeFrames frames;
    private final Sinks.Many<ChangeEvent> events = Sinks.many().multicast().directBestEffort();
    private volatile Disposable running;

    ProfileChangeFeed(ReactiveMongoTemplate mongo, ChangeFrames frames) {
        this.mongo = mongo;
        this.frames = frames;
    }

    @Override
    public String channel() {
        return Channels.PROFILES;
    }

    @Override
    public Flux<ChangeEvent> events() {
        return events.asFlux();
    }

    @Override
    public void start() {
        ChangeStreamOptions options = ChangeStreamOptions.builder().returnFullDocumentOnUpdate().build();
        // The collection must exist before a stream on it reports anything; a stream that ends is reopened.
        running = Flux.defer(() -> mongo.collectionExists(ProfileRepository.COLLECTION)
                        .flatMap(exists -> exists ? Mono.empty() : mongo.createCollection(ProfileRepository.COLLECTION)
                                .onErrorResume(alreadyThere -> Mono.empty()).then())
                        .thenMany(mongo.changeStream(ProfileRepository.COLLECTION, options, Document.class)))
                .filter(ProfileChangeFeed::isDocumentChange)
                .map(this::toEvent)
                .repeatWhen(ends -> ends.delayElements(Duration.ofSeconds(1)))
                .retryWhen(Retry.backoff(Long.MAX_VALUE, Duration.ofSeconds(1)).maxBackoff(Duration.ofSeconds(30))
                        .transientErrors(true)
                        .doBeforeRetry(signal -> log.warn("Profile change stream interrupted ({}); reopening",
                                signal.failure().toString())))
                .subscribe(events::tryEmitNext);
    }

    /** Inserts, updates, replaces and deletes of profiles; not drops or other collections' events. */
    private static boolean isDocumentChange(ChangeStreamEvent<Document> event) {
        OperationType type = event.getOperationType();
        var namespace = event.getRaw() == null ? null : event.getRaw().getNamespace();
        boolean ours = namespace == null || ProfileRepository.COLLECTION.equals(namespace.getCollectionName());
        return ours && (type == OperationType.INSERT || type == OperationType.UPDATE || type == OperationType.REPLACE
                || type == OperationType.DELETE);
    }

    ChangeEvent toEvent(ChangeStreamEvent<Document> event) {
        String operation = switch (event.getOperationType()) {
            case INSERT -> "INSERT";
            case DELETE -> "DELETE";
            default -> "UPDATE";
        };
        ObjectNode data = frames.object();
        Document body = event.getBody();
        if (body != null) {
            body.forEach((field, value) -> data.set(field.equals("_id") ? "id" : field, frames.value(plain(value))));
        } else if (event.getRaw() != null && event.getRaw().getDocumentKey() != null) {
            data.put("id", event.getRaw().getDocumentKey().get("_id").asObjectId().getValue().toHexString());
        }
        Instant at = event.getTimestamp();
        // ChangeFrames drops the password and other secrets before anything is serialized.
        return frames.live(Channels.PROFILES, ProfileRepository.COLLECTION, operation, data,
                at == null ? Instant.now() : at);
    }

    /** BSON values as JSON-friendly ones: ids as hex, dates as ISO instants, documents recursively. */
    private static Object plain(Object value) {
        if (value instanceof ObjectId id) {
            return id.toHexString();
        }
        if (value instanceof java.util.Date date) {
            return date.toInstant().toString();
        }
        if (value instanceof Document document) {
            Map<String, Object> copy = new java.util.LinkedHashMap<>();
            document.forEach((key, inner) -> copy.put(key, plain(inner)));
            return copy;
        }
        if (value instanceof java.util.List<?> list) {
            return list.stream().map(ProfileChangeFeed::plain).toList();
        }
        return value;
    }

    @Override
    public void stop() {
        Disposable current = running;
        if (current != null) {
            current.dispose();
        }
    }

    @Override
    public boolean isRunning() {
        Disposable current = running;
        return current != null && !current.isDisposed();
    }
}
