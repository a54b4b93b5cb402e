select
    unique_row_id as unique_field,
    count(*) as n_records
from "warehouse"."public"."green_tripdata"
where unique_row_id is not null
group by unique_row_id
having count(*) > 1
