package io.fluxgate.profiles;

import java.time.Duration;
import java.time.Instant;
import java.util.Map;

import io.fluxgate.changes.Channels;
import io.fluxgate.changes.LiveChangeSource;
import com.mongodb.client.model.changestream.OperationType;
import org.bson.Document;
import org.bson.types.ObjectId;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.util.retry.Retry;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

import org.springframework.context.SmartLifecycle;
import org.springframework.data.mongodb.core.ChangeStreamEvent;
import org.springframework.data.mongodb.core.ChangeStreamOptions;
import org.springframework.data.mongodb.core.ReactiveMongoTemplate;
import org.springframework.stereotype.Component;

/**
 * MongoDB's change stream on {@code profiles}, as {@code profile_changes} frames for the change hub.
 * The password never leaves: it is dropped from every document before serialization.
 */
@Component
class ProfileChangeFeed implements LiveChangeSource, SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(ProfileChangeFeed.class);

    private final ReactiveMongoTemplate mongo;
    private final JsonMapper json;
    private final Sinks.Many<byte[]> frames = Sinks.many().multicast().directBestEffort();
    private volatile Disposable running;

    ProfileChangeFeed(ReactiveMongoTemplate mongo, JsonMapper json) {
        this.mongo = mongo;
        this.json = json;
    }

    @Override
    public String channel() {
        return Channels.PROFILES;
    }

    @Override
    public Flux<byte[]> frames() {
        return frames.asFlux();
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
                .map(this::toFrame)
                .repeatWhen(ends -> ends.delayElements(Duration.ofSeconds(1)))
                .retryWhen(Retry.backoff(Long.MAX_VALUE, Duration.ofSeconds(1)).maxBackoff(Duration.ofSeconds(30))
                        .transientErrors(true)
                        .doBeforeRetry(signal -> log.warn("Profile change stream interrupted ({}); reopening",
                                signal.failure().toString())))
                .subscribe(frames::tryEmitNext);
    }

    /** Inserts, updates, replaces and deletes of profiles; not drops or other collections' events. */
    private static boolean isDocumentChange(ChangeStreamEvent<Document> event) {
        OperationType type = event.getOperationType();
        var namespace = event.getRaw() == null ? null : event.getRaw().getNamespace();
        boolean ours = namespace == null || ProfileRepository.COLLECTION.equals(namespace.getCollectionName());
        return ours && (type == OperationType.INSERT || type == OperationType.UPDATE || type == OperationType.REPLACE
                || type == OperationType.DELETE);
    }

    byte[] toFrame(ChangeStreamEvent<Document> event) {
        String operation = switch (event.getOperationType()) {
            case INSERT -> "INSERT";
            case DELETE -> "DELETE";
            default -> "UPDATE";
        };
        ObjectNode data = json.createObjectNode();
        Document body = event.getBody();
        if (body != null) {
            for (Map.Entry<String, Object> field : body.entrySet()) {
                if (!field.getKey().equals("password") && !field.getKey().equals("_class")) {
                    data.set(field.getKey().equals("_id") ? "id" : field.getKey(), json.valueToTree(plain(field.getValue())));
                }
            }
        } else if (event.getRaw() != null && event.getRaw().getDocumentKey() != null) {
            data.put("id", event.getRaw().getDocumentKey().get("_id").asObjectId().getValue().toHexString());
        }
        ObjectNode frame = json.createObjectNode();
        frame.put("type", "database_change");
        frame.put("channel", Channels.PROFILES);
        frame.put("operation", operation);
        frame.put("table", ProfileRepository.COLLECTION);
        frame.set("data", data);
        frame.putNull("cursor");
        Instant at = event.getTimestamp();
        frame.put("committedAt", (at == null ? Instant.now() : at).toString());
        return json.writeValueAsBytes(frame);
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
