package io.fluxgate.changes.capture.wal;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;

import io.netty.buffer.ByteBuf;

/**
 * The messages of PostgreSQL's built-in {@code pgoutput} plugin, protocol version 1, as far as
 * capture needs them: transaction bounds, table descriptions, row changes and our own markers.
 * Everything is copied out of the buffer, which the driver releases once decoding returns.
 */
final class PgOutput {

    /** Microseconds from the Unix epoch to PostgreSQL's, 2000-01-01. */
    private static final long POSTGRES_EPOCH_MICROS = 946_684_800_000_000L;

    sealed interface Message {
    }

    /** A transaction begins; {@code commitLsn} is where it commits; {@code xid} is its 32-bit id. */
    record Begin(long commitLsn, Instant committedAt, long xid) implements Message {
    }

    /** The transaction ends; the slot may be confirmed up to {@code endLsn} once it is appended. */
    record Commit(long commitLsn, long endLsn) implements Message {
    }

    record Column(String name, int typeOid) {
    }

    /** The columns of a table, sent before its first row change in a stream and after it changes. */
    record Relation(long id, String schema, String name, List<Column> columns) implements Message {
    }

    /**
     * A row change. {@code after} for INSERT and UPDATE, {@code before} for DELETE and for UPDATE
     * (the whole old row, with REPLICA IDENTITY FULL); a value is its text form, null for SQL NULL,
     * or {@link #UNCHANGED} for a TOASTed value the UPDATE did not touch.
     */
    record Row(long relationId, String operation, String[] after, String[] before) implements Message {
    }

    /** A logical decoding message ({@code pg_logical_emit_message}). */
    record Marker(long lsn, String prefix) implements Message {
    }

    /** Anything else (types, origins, truncates): nothing to capture. */
    record Other(char kind) implements Message {
    }

    /** Stands for a TOASTed value an UPDATE left alone: the old row holds it. */
    static final String UNCHANGED = new String("unchanged toast");

    private PgOutput() {
    }

    static Message decode(ByteBuf in) {
        char kind = (char) in.readByte();
        switch (kind) {
            case 'B':
                return new Begin(in.readLong(), instant(in.readLong()), in.readUnsignedInt());
            case 'C':
                in.readByte(); // flags
                return new Commit(in.readLong(), in.readLong());
            case 'R':
                return relation(in);
            case 'I': {
                long relation = in.readUnsignedInt();
                in.readByte(); // 'N'
                return new Row(relation, "INSERT", tuple(in), null);
            }
            case 'U': {
                long relation = in.readUnsignedInt();
                char next = (char) in.readByte();
                String[] before = null;
                if (next == 'K' || next == 'O') {
                    before = tuple(in);
                    in.readByte(); // 'N'
                }
                return new Row(relation, "UPDATE", tuple(in), before);
            }
            case 'D': {
                long relation = in.readUnsignedInt();
                in.readByte(); // 'K' or 'O'
                return new Row(relation, "DELETE", null, tuple(in));
            }
            case 'M': {
                in.readByte(); // transactional or not
                long lsn = in.readLong();
                return new Marker(lsn, string(in));
            }
            default:
                return new Other(kind);
        }
    }

    private static Relation relation(ByteBuf in) {
        long id = in.readUnsignedInt();
        String schema = string(in);
        String name = string(in);
        in.readByte(); // replica identity setting
        int count = in.readShort();
        Column[] columns = new Column[count];
        for (int i = 0; i < count; i++) {
            in.readByte(); // flags (part of the key)
            String column = string(in);
            int type = in.readInt();
            in.readInt(); // type modifier
            columns[i] = new Column(column, type);
        }
        return new Relation(id, schema, name, List.of(columns));
    }

    private static String[] tuple(ByteBuf in) {
        int count = in.readShort();
        String[] values = new String[count];
        for (int i = 0; i < count; i++) {
            char kind = (char) in.readByte();
            values[i] = switch (kind) {
                case 'n' -> null;
                case 'u' -> UNCHANGED;
                case 't' -> {
                    int length = in.readInt();
                    String text = in.toString(in.readerIndex(), length, StandardCharsets.UTF_8);
                    in.skipBytes(length);
                    yield text;
                }
                default -> throw new IllegalStateException("Unexpected column kind '" + kind + "' (binary mode is off)");
            };
        }
        return values;
    }

    private static String string(ByteBuf in) {
        int end = in.indexOf(in.readerIndex(), in.writerIndex(), (byte) 0);
        String text = in.toString(in.readerIndex(), end - in.readerIndex(), StandardCharsets.UTF_8);
        in.readerIndex(end + 1);
        return text;
    }

    private static Instant instant(long postgresMicros) {
        long micros = postgresMicros + POSTGRES_EPOCH_MICROS;
        return Instant.ofEpochSecond(Math.floorDiv(micros, 1_000_000), Math.floorMod(micros, 1_000_000) * 1000L);
    }
}
