"""Canonical Arrow schemas that every source maps onto, and the lake stores.

Readers fill the source columns; the lake's ingest fills the derived ones (marked below):
the missing coordinate system, ``lsoa11cd`` where a source lacks it, ``geo_status``,
``row_hash``, ``batch_id``. A stated LSOA code goes in the column of its boundary year
(`vru.geo.lsoa_years.stated_columns`).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

TS = pa.timestamp("us")

# One row per recorded crime / incident, from any source.
INCIDENTS = pa.schema([
    ("source", pa.string()),          # "police_uk", "force_extract"
    ("source_ref", pa.string()),      # unique within source: Crime ID, force reference, or a
                                      # content key for rows without one (police.uk ASB)
    ("force", pa.string()),           # police force area name, as the source gives it
    ("month", pa.string()),           # YYYY-MM (police.uk month; else month of occurred_from)
    ("occurred_from", TS),            # null where only the month is known
    ("occurred_to", TS),
    ("time_precision", pa.string()),  # "month" | "day" | "minute" | "window" (from/to)
    ("category", pa.string()),        # data.police.uk crime type
    ("offence_code", pa.string()),    # Home Office offence code, null for police.uk
    ("offence_group", pa.string()),   # Home Office offence group, null where unknown
    ("lon", pa.float64()),            # WGS84 (derived when the source gives BNG)
    ("lat", pa.float64()),
    ("easting", pa.float64()),        # British National Grid EPSG:27700 (derived from lon/lat)
    ("northing", pa.float64()),
    ("location", pa.string()),        # street / place description as given
    ("lsoa11cd", pa.string()),        # 2011 LSOA: a stated 2011 code, else point-in-polygon
                                      # (derived), else the 2021 code's bridge (derived)
    ("lsoa21cd", pa.string()),        # 2021 LSOA as stated: a 2021-only code, or a 2011 code
                                      # that 2021 kept (unchanged LSOA); null otherwise
    ("geo_status", pa.string()),      # derived: ok | no_location | outside_boundaries |
                                      # lsoa_differs (stated code kept, point falls elsewhere)
                                      # | lsoa_from_2021_code (no point: ONS best fit)
    ("knife", pa.bool_()),            # knife / sharp instrument flag (null: not recorded)
    ("domestic", pa.bool_()),
    ("outcome", pa.string()),         # latest outcome (police.uk category or HO outcome text)
    ("outcome_code", pa.string()),    # Home Office outcome type number, where known
    ("outcome_date", pa.date32()),    # police.uk: first day of the outcome month
    ("victim_age_band", pa.string()),
    ("context", pa.string()),
    ("source_file", pa.string()),
    ("source_line", pa.int64()),
    ("row_hash", pa.int64()),         # derived: 63-bit MD5 of the content, for change detection
    ("batch_id", pa.string()),        # derived
])

# Every outcome ever reported for a crime (police.uk outcomes files, force extract outcomes).
OUTCOMES = pa.schema([
    ("source", pa.string()),
    ("source_ref", pa.string()),      # the crime's source_ref
    ("force", pa.string()),
    ("month", pa.string()),           # month the outcome was reported
    ("outcome", pa.string()),
    ("outcome_code", pa.string()),
    ("outcome_date", pa.date32()),
    ("source_file", pa.string()),
    ("source_line", pa.int64()),
    ("row_hash", pa.int64()),
    ("batch_id", pa.string()),
])

STOP_SEARCH = pa.schema([
    ("source_ref", pa.string()),      # content key (police.uk has no id)
    ("force", pa.string()),
    ("month", pa.string()),
    ("type", pa.string()),
    ("date", TS),
    ("part_of_operation", pa.bool_()),
    ("operation", pa.string()),
    ("lon", pa.float64()),
    ("lat", pa.float64()),
    ("easting", pa.float64()),
    ("northing", pa.float64()),
    ("lsoa11cd", pa.string()),
    ("lsoa21cd", pa.string()),        # null: the files state no LSOA (kept for one shape)
    ("geo_status", pa.string()),
    ("gender", pa.string()),
    ("age_range", pa.string()),
    ("self_defined_ethnicity", pa.string()),
    ("officer_defined_ethnicity", pa.string()),
    ("legislation", pa.string()),
    ("object_of_search", pa.string()),
    ("outcome", pa.string()),
    ("outcome_linked", pa.bool_()),
    ("removal_of_clothing", pa.bool_()),
    ("source_file", pa.string()),
    ("source_line", pa.int64()),
    ("row_hash", pa.int64()),
    ("batch_id", pa.string()),
])

# Emergency-department assault attendances, NHS ISTV (ISB 1594): no personal identifiers.
ED_ASSAULTS = pa.schema([
    ("source_ref", pa.string()),      # site_code + attendance reference (or content key)
    ("site_code", pa.string()),       # ODS code of the ED
    ("arrival", TS),
    ("assault", TS),                  # null where not recorded
    ("month", pa.string()),           # month of the assault (else of arrival)
    ("weapon", pa.string()),          # ISTV method/weapon category
    ("location_type", pa.string()),   # ISTV location type
    ("location_description", pa.string()),
    ("lon", pa.float64()),            # geocoded from the description where possible
    ("lat", pa.float64()),
    ("easting", pa.float64()),
    ("northing", pa.float64()),
    ("geocode_level", pa.string()),   # street | postcode_district | place | none
    ("lsoa11cd", pa.string()),
    ("geo_status", pa.string()),
    ("source_file", pa.string()),
    ("source_line", pa.int64()),
    ("row_hash", pa.int64()),
    ("batch_id", pa.string()),
])


def empty(schema: pa.Schema) -> pa.Table:
    """An empty table of ``schema``."""
    return schema.empty_table()


def conform(table: pa.Table, schema: pa.Schema, keep_encoded: bool = False) -> pa.Table:
    """Reorder/cast ``table`` to ``schema``, adding all-null columns it lacks.

    With ``keep_encoded``, dictionary-encoded values and string views of the wanted type
    stay as they are: they read back as the wanted type, and decoding them would copy
    every value.
    """
    cols, fields = [], []
    for f in schema:
        col = table[f.name] if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
        if keep_encoded and encodes(col.type, f.type):
            fields.append(pa.field(f.name, col.type, f.nullable))
        else:
            col = col.cast(f.type)
            fields.append(f)
        cols.append(col)
    return pa.Table.from_arrays(cols, schema=pa.schema(fields))


def encodes(given: pa.DataType, wanted: pa.DataType) -> bool:
    """Whether ``given`` holds values of type ``wanted`` in another encoding."""
    return ((pa.types.is_dictionary(given) and given.value_type == wanted)
            or (given == pa.string_view() and wanted == pa.string()))


def repeat(value: str, n: int) -> pa.DictionaryArray:
    """``value`` ``n`` times as a dictionary column: no string is copied n times, and the
    Parquet writer stores it as the one-entry dictionary it is."""
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), pa.array([value]))


def single(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """A column as one array, copied only when it has several chunks
    (``ChunkedArray.combine_chunks`` copies even one: 11 ms per million IDs)."""
    if isinstance(column, pa.Array):
        return column
    if column.num_chunks == 1:
        return column.chunk(0)
    return column.combine_chunks() if column.num_chunks else pa.array([], column.type)
