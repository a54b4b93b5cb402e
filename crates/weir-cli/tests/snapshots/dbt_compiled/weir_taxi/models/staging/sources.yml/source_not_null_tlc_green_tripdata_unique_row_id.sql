select unique_row_id
from "warehouse"."public"."green_tripdata"
where unique_row_id is null
