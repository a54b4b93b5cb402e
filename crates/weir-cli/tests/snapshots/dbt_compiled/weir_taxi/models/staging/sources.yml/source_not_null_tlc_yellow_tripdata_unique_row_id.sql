select unique_row_id
from "warehouse"."public"."yellow_tripdata"
where unique_row_id is null
